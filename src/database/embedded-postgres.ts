// Starts (or reuses) an embedded PostgreSQL cluster and hands back its superuser URL.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
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
        reject(
          new Error(
            `Embedded PostgreSQL did not start on port ${options.port}: ${message.message}\n${recentLog.join('\n')}`,
          ),
        );
      }
    });
    child.on('exit', (code) =>
      reject(
        new Error(
          `Embedded PostgreSQL exited (code ${code}) before it was ready on port ${options.port}:\n${recentLog.join('\n')}`,
        ),
      ),
    );
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
