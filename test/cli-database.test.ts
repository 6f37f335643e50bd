// The command-line tools (`npm run db:*`, `tenant:*`, `token`) beside a running `npm start`,
// as a developer meets them: `npm start` runs the embedded PostgreSQL on another
// EMBEDDED_POSTGRES_PORT than the tools are given, and the tools find it through the data
// folder rather than failing on its lock file; a cluster they cannot use is one line saying
// what to set, never a stack trace. And `npm run db:watch -- --once` runs current.sql once,
// prints the guard's verdict and exits, non-zero when the guard objects.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_SECRET } from './support/api.ts';
import { startWithOwnDatabase, type OwnDatabaseProcess } from './support/api-process.ts';
import { freePort } from '../support/free-port.ts';

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs one of src/cli/ as npm runs it; a tool still running after `timeoutMs` is killed (code null). */
function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const STACK_FRAME = /^\s+at /m;

let app: OwnDatabaseProcess;
/** EMBEDDED_POSTGRES_PORT as a tool gets it: the default's stand-in, not npm start's port. */
let otherPort: number;
const toolEnv = () => ({ EMBEDDED_POSTGRES_DIR: app.dataDir, EMBEDDED_POSTGRES_PORT: String(otherPort) });
/** npm start's own EMBEDDED_POSTGRES_PORT: for what is not about finding the cluster. */
const sameEnv = () => ({ EMBEDDED_POSTGRES_DIR: app.dataDir, EMBEDDED_POSTGRES_PORT: String(app.pgPort) });

beforeAll(async () => {
  app = await startWithOwnDatabase();
  otherPort = await freePort();
}, 120_000);

// Stopped as an operator stops it (SIGTERM: its PostgreSQL stops too), then removed: a
// SIGKILL would leave PostgreSQL writing into the folder while it is deleted.
afterAll(async () => {
  if (!app) return;
  app.child.kill('SIGTERM');
  await app.exited;
  await app.remove();
}, 60_000);

describe('npm start runs the embedded PostgreSQL on another port', () => {
  test('db:migrate and db:guard find it through the data folder', { timeout: 120_000 }, async () => {
    const migrate = await runCli(['src/cli/db.ts', 'migrate'], toolEnv());
    expect(migrate.output).not.toMatch(/postmaster\.pid|lock file/);
    expect(migrate.output).not.toMatch(STACK_FRAME);
    expect([migrate.code, migrate.output]).toEqual([0, expect.stringContaining('database migrated')]);
    const guard = await runCli(['src/cli/db.ts', 'guard'], toolEnv());
    expect([guard.code, guard.output]).toEqual([0, expect.stringContaining('schema guard: no problems')]);
    // Still npm start's cluster: the tools neither stopped it nor started another.
    const health = await fetch(`http://127.0.0.1:${app.port}/readyz`);
    expect(health.status).toBe(200);
  });

  test('tenant:* and token find it too', { timeout: 60_000 }, async () => {
    const exported = await runCli(
      ['src/cli/tenant.ts', 'export', '--tenant', 'nobody-here', '--out', '/dev/null'],
      toolEnv(),
    );
    const token = await runCli(['src/cli/token.ts', '--user', 'nobody@example.test'], {
      ...toolEnv(),
      NODE_ENV: 'development',
    });
    // Each reached the database and answered about what is not there, in its own words.
    for (const [outcome, answer] of [
      [exported, 'nobody-here'],
      [token, 'No user with email nobody@example.test'],
    ] as const) {
      expect(outcome.output).not.toMatch(/postmaster\.pid|lock file/);
      expect(outcome.output).not.toMatch(STACK_FRAME);
      expect([outcome.code, outcome.output]).toEqual([1, expect.stringContaining(answer)]);
    }
  });
});

describe('a data folder held by a PostgreSQL that does not answer', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-held-'));
  });
  afterAll(() => rm(folder, { recursive: true, force: true }));

  test('a tool says in one line what to set, with no stack trace', { timeout: 60_000 }, async () => {
    // A lock file as PostgreSQL writes it, naming a live process (this one) and a port nobody listens on.
    const dataDir = path.join(folder, 'postgres');
    const silentPort = await freePort();
    await mkdir(dataDir);
    await writeFile(
      path.join(dataDir, 'postmaster.pid'),
      `${process.pid}\n${dataDir}\n1796670000\n${silentPort}\n\n127.0.0.1\n  1234567     12345\nready   \n`,
    );
    const outcome = await runCli(['src/cli/db.ts', 'migrate'], {
      EMBEDDED_POSTGRES_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
    });
    expect(outcome.code).toBe(1);
    expect(outcome.output).not.toMatch(STACK_FRAME);
    expect(outcome.output.trim().split('\n')).toEqual([
      expect.stringContaining(`set EMBEDDED_POSTGRES_PORT=${silentPort}`),
    ]);
  });
});

describe('npm run db:watch -- --once', () => {
  async function asSuperuser(sql: string): Promise<void> {
    const { superuser } = JSON.parse(await readFile(`${app.dataDir}.credentials.json`, 'utf8')) as {
      superuser: string;
    };
    const client = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(superuser)}@127.0.0.1:${app.pgPort}/tenantgraph`,
    });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  test(
    'runs current.sql once, prints the verdict and exits 0 when the guard has nothing to say',
    { timeout: 120_000 },
    async () => {
      const outcome = await runCli(['src/cli/db.ts', 'watch', '--once'], sameEnv());
      expect(outcome.code).toBe(0);
      expect(outcome.output).toContain('schema guard: no problems');
    },
  );

  test('exits 1, naming the finding, when the guard objects', { timeout: 120_000 }, async () => {
    const table = `app_public.unguarded_${randomBytes(4).toString('hex')}`;
    await asSuperuser(`create table ${table} (tenant_id uuid, secret text)`);
    try {
      const outcome = await runCli(['src/cli/db.ts', 'watch', '--once'], sameEnv());
      expect(outcome.code).toBe(1);
      expect(outcome.output).toContain(table);
      expect(outcome.output).toMatch(/schema guard: [1-9]\d* error/);
    } finally {
      await asSuperuser(`drop table ${table}`);
    }
  });

  test(
    'an option it does not know is refused, not ignored while watching forever',
    { timeout: 60_000 },
    async () => {
      const outcome = await runCli(['src/cli/db.ts', 'watch', '--onse'], sameEnv());
      expect(outcome.code).toBe(1);
      expect(outcome.output).toContain("Unknown option '--onse'");
    },
  );
});
