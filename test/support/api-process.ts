// `npm start`'s own entry point (src/main.ts) as a child process in production mode,
// for tests about the process itself: over the run's test database (startApiProcess: its
// heap, what production serves), or booting an embedded PostgreSQL of its own
// (startWithOwnDatabase: start-up, processes, shutdown).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { TEST_SECRET } from './api.ts';
import { freePort } from './free-port.ts';

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
  const child = spawn(process.execPath, [...nodeFlags, 'src/main.ts'], {
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (
    !(await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, child, output: () => output, kill: () => child.kill('SIGKILL') };
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
  const child = spawn(process.execPath, [entry], {
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const remove = async () => {
    child.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
  };
  const started = Date.now();
  while (!output.includes(ready)) {
    if (child.exitCode !== null || Date.now() - started > 60_000) {
      await remove();
      throw new Error(`did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, pgPort, dataDir, child, output: () => output, exited, remove };
}
