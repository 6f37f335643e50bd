// `npm start`'s own entry point (src/main.ts) as a child process in production mode
// (support/api-process.ts starts it), for tests about the process itself: over the run's
// test database (startApiProcess: its heap, what production serves), or booting an
// embedded PostgreSQL of its own (startWithOwnDatabase: start-up, processes, shutdown).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { TEST_SECRET } from './api.ts';
import { spawnApi } from '../../support/api-process.ts';
import { freePort } from '../../support/free-port.ts';

const database = inject('database');

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  kill(): void;
}

export async function startApiProcess({
  env = {},
  nodeFlags = [],
}: { env?: Record<string, string>; nodeFlags?: string[] } = {}): Promise<ApiProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, output } = await spawnApi({
    nodeFlags,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      DATABASE_URL: database.ownerUrl,
      AUTH_DATABASE_URL: database.authenticatorUrl,
      DATABASE_VISITOR: database.visitor,
      DATABASE_ANONYMOUS: database.anonymous,
      LOG_LEVEL: 'warn',
      ...env,
    },
    ready: { url },
  });
  return { url, child, output, kill: () => child.kill('SIGKILL') };
}

export interface OwnDatabaseProcess {
  port: number;
  /** The embedded PostgreSQL's port and data folder. */
  pgPort: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  /** Kills whatever is left of it and deletes its folder. */
  remove(): Promise<void>;
}

/**
 * `npm start`'s entry point in production (or another: `npm run worker`'s), booting an
 * embedded PostgreSQL of its own in a temporary folder, as a fresh deployment does;
 * resolves once it logs `ready`.
 */
export async function startWithOwnDatabase(
  env: Record<string, string> = {},
  { entry = 'src/main.ts', ready = 'tenantgraph is ready' } = {},
): Promise<OwnDatabaseProcess> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-own-database-'));
  const [port, pgPort] = [await freePort(), await freePort()];
  const dataDir = path.join(folder, 'postgres');
  const started = await spawnApi({
    entry: path.resolve(entry),
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      EMBEDDED_POSTGRES_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      ...env,
    },
    ready: { line: ready },
  }).catch(async (error: unknown) => {
    await rm(folder, { recursive: true, force: true });
    throw error;
  });
  const { child, output, exited } = started;
  const remove = async () => {
    child.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
  };
  return { port, pgPort, dataDir, child, output, exited, remove };
}
