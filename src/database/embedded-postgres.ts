// Starts (or reuses) an embedded PostgreSQL cluster and hands back its superuser URL.
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { StartupError } from '../startup-error.ts';
import type { ChildMessage, EmbeddedPostgresOptions } from './embedded-postgres-process.ts';

export interface EmbeddedCluster {
  rootUrl: string;
  /** Stops the cluster if this process started it; a reused cluster is left running. */
  stop(): Promise<void>;
}

// .ts from the source, .js when compiled into dist/ (bin/start.js runs that in production).
const childScript = fileURLToPath(
  new URL(`./embedded-postgres-process${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export function superuserUrl(
  options: Pick<EmbeddedPostgresOptions, 'port' | 'superuser' | 'superuserPassword'>,
  database = 'postgres',
): string {
  const url = new URL(`postgres://127.0.0.1:${options.port}/${database}`);
  url.username = options.superuser;
  url.password = options.superuserPassword;
  return url.toString();
}

async function answers(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another OS user (the 'postgres' user, when we are root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The cluster a running PostgreSQL holds in this data folder, from its lock file
 * (postmaster.pid: the postmaster's pid on line 1, its port on line 4); undefined when no
 * PostgreSQL runs it.
 */
export async function runningCluster(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const lines = (
    await readFile(path.join(path.resolve(dataDir), 'postmaster.pid'), 'utf8').catch(() => '')
  ).split('\n');
  const [pid, port] = [Number(lines[0]), Number(lines[3])];
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return isRunning(pid) ? { pid, port } : undefined;
}

/**
 * A cluster that would not start is the operator's to fix (a port taken, a folder not
 * writable): one line with PostgreSQL's own reason (its last FATAL line, if any) and what to
 * set, not a stack trace. The full log went to onLog.
 */
function didNotStart(options: EmbeddedPostgresOptions, why: string, recentLog: string[]): StartupError {
  const fatal = recentLog.findLast((line) => /FATAL|ERROR/.test(line));
  return new StartupError(
    `The embedded PostgreSQL did not start on port ${options.port} with data folder ${options.dataDir}: ` +
      `${(fatal ?? why).replace(/\s+/g, ' ').trim()}. ` +
      'Set EMBEDDED_POSTGRES_PORT to a free port (or DATABASE_URL to a PostgreSQL of yours).',
  );
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
  onLog: (message: string) => void = () => {},
): Promise<EmbeddedCluster> {
  const rootUrl = superuserUrl(options);
  // Another process of ours (say `npm start` while a DBA runs `npm run db:watch`)
  // may already run this cluster: share it and leave its lifecycle to that process.
  if (await answers(rootUrl)) {
    return { rootUrl, stop: async () => {} };
  }
  // ...perhaps on another port (`EMBEDDED_POSTGRES_PORT=54330 npm start`, then a CLI
  // without it): the data folder says where. Only one PostgreSQL can run a data folder,
  // so starting a second one could only fail on its lock file.
  const running = await runningCluster(options.dataDir);
  if (running && running.port !== options.port) {
    const there = superuserUrl({ ...options, port: running.port });
    if (await answers(there)) {
      onLog(
        `using the embedded PostgreSQL already running on ${options.dataDir} (port ${running.port}, not EMBEDDED_POSTGRES_PORT=${options.port})`,
      );
      return { rootUrl: there, stop: async () => {} };
    }
    throw new StartupError(
      `The embedded PostgreSQL of ${options.dataDir} runs (pid ${running.pid}) on port ${running.port} but does not let us in: ` +
        `set EMBEDDED_POSTGRES_PORT=${running.port} if it is still starting, or stop that process.`,
    );
  }

  // The options (the superuser's password among them) travel over the IPC channel, not
  // as arguments: any local user can read another process's arguments in `ps`.
  const child = fork(childScript, [], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  child.send({ type: 'start', options });
  const recentLog: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'log') {
        onLog(message.message);
        recentLog.push(message.message.trim());
        recentLog.splice(0, recentLog.length - 5);
      } else if (message.type === 'ready') {
        resolve();
      } else {
        reject(didNotStart(options, message.message, recentLog));
      }
    });
    child.on('exit', (code) => reject(didNotStart(options, `exited with code ${code}`, recentLog)));
  });
  // The cluster must not keep this process alive on its own; stop() ends it explicitly,
  // and a closed IPC channel (this process gone) makes the child stop it too.
  child.unref();
  child.channel?.unref();

  let stopped: Promise<void> | undefined;
  return {
    rootUrl,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || !child.connected) return resolve();
        child.ref();
        child.channel?.ref();
        child.once('exit', () => resolve());
        child.send('stop');
      });
      return stopped;
    },
  };
}
