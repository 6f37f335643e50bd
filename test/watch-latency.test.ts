// Development's watch mode while a DBA iterates on current.sql (npm run db:watch beside
// npm start): how long a new table takes to be served, how long the schema guard takes to
// refuse a leak in something already served and to serve again once it is fixed, and that
// the requests of the tenants meanwhile never fail for it (no 503 DATABASE_UNAVAILABLE
// while current.sql re-runs). The figures are printed; the limits are the README's
// promises with room for a busy machine.
//
// Runs on a database of its own in the shared test server, created and dropped here.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { presetFromEnv, readEnv } from '../src/config.ts';
import { dropDatabase, loginRoleOf } from '../src/database/bootstrap.ts';
import { graphileMigrate } from '../src/database/graphile-migrate.ts';
import { databaseOn, onDatabase } from '../src/database/location.ts';
import { migrationSettings, prepareDatabase } from '../src/database/migrations.ts';
import { newTableSql } from '../src/dba/new-table.ts';
import { createDatabaseGate } from '../src/http/database-gate.ts';
import { startApiServer, type ApiServer } from '../src/server.ts';
import { TEST_SECRET, tokenFor } from './support/api.ts';

const shared = inject('database');
const env = readEnv({
  NODE_ENV: 'production',
  JWT_SECRET: TEST_SECRET,
  TRUSTED_DOCUMENTS: 'off',
  BUDGET_POINTS: '0',
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const databaseName = `tenantgraph_watch_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const logins = { owner: loginRoleOf(shared.ownerUrl), authenticator: loginRoleOf(shared.authenticatorUrl) };
const location = databaseOn({ rootUrl: shared.rootUrl, embedded: false }, databaseName, logins, env);
const superuserUrl = onDatabase(shared.rootUrl, databaseName);

let owner: pg.Pool;
let api: ApiServer;
const logLines: Array<{ at: number; msg: string; err?: string }> = [];
const logger = pino(
  { level: 'info' },
  {
    write: (line: string) => {
      const entry = JSON.parse(line);
      logLines.push({ at: performance.now(), msg: entry.msg ?? '', err: entry.err?.message });
    },
  },
);

beforeAll(async () => {
  await prepareDatabase(location, () => {});
  owner = new pg.Pool({ connectionString: location.ownerUrl, max: 2 });
  api = await startApiServer({
    preset: {
      extends: [presetFromEnv(env)],
      grafserv: { port: 0 },
      tenantgraph: { roles: { visitor: shared.visitor, anonymous: shared.anonymous } },
    },
    authenticatorUrl: location.authenticatorUrl,
    verifyToken: createTokenVerifier({
      key: { kind: 'secret', secret: TEST_SECRET },
      clockToleranceSeconds: 0,
    }),
    logger,
    watch: { superuserUrl },
  });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await owner?.end();
  await dropDatabase(shared.rootUrl, databaseName);
});

async function graphql(token: string, query: string) {
  const response = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => null);
  if (!response) return { status: 0, body: {} as any };
  return { status: response.status, body: (await response.json()) as any };
}

/** Milliseconds from now until `ok` holds (polled every 50 ms), or Infinity after `limitMs`. */
async function until(ok: () => Promise<boolean>, limitMs = 30_000): Promise<number> {
  const began = performance.now();
  while (performance.now() - began < limitMs) {
    if (await ok()) return performance.now() - began;
    await sleep(50);
  }
  return Infinity;
}

test(
  'under db:watch, a new table is served, a leak refused and its fix served again within seconds, and requests never see the database as away',
  { timeout: 180_000 },
  async () => {
    const tenantId = randomUUID();
    const userId = randomUUID();
    await owner.query("insert into app_public.tenants (id, slug, name) values ($1, $2, 'Watch')", [
      tenantId,
      `watch-${tenantId.slice(0, 8)}`,
    ]);
    await owner.query('insert into app_public.users (id) values ($1)', [userId]);
    await owner.query(
      "insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, 'member')",
      [tenantId, userId],
    );
    const token = tokenFor({ userId, tenantId }, { expiresIn: '10m' });
    const settings = await migrationSettings(location);
    // current.sql as db:watch runs it on each save (graphile-migrate's watch --once runs it the same way).
    const runCurrent = async (sql: string) => {
      await graphileMigrate({ command: 'run', sql, filename: 'current.sql' }, settings);
    };
    const table = `drop table if exists app_public.watch_probes cascade;\n${newTableSql({ name: 'watch_probes', columns: ['label:text'] })}`;

    // Requests all along, as the app would send them.
    const statuses: Array<{ status: number; code?: string }> = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const { status, body } = await graphql(token, '{ products(first: 3) { nodes { name } } }');
        statuses.push({ status, code: body.errors?.[0]?.extensions?.code });
      }
    })();
    const figures: Record<string, number> = {};
    try {
      await sleep(500);
      let began = performance.now();
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      await runCurrent(table);
      figures.ranMs = performance.now() - began;
      figures.newTableMs =
        (await until(
          async () => (await graphql(token, '{ watchProbes { totalCount } }')).body.data != null,
        )) + figures.ranMs;
      delay.disable();
      figures.blockedMs = delay.max / 1e6;

      // The same save again: the table dropped and created once more.
      began = performance.now();
      await runCurrent(table);
      figures.rerunServedMs =
        (await until(
          async () => (await graphql(token, '{ watchProbes { totalCount } }')).body.data != null,
        )) +
        performance.now() -
        began -
        0;

      // A leak in something already served: refused with 503 SCHEMA_REFUSED.
      began = performance.now();
      await runCurrent(
        `${table}\ndrop policy if exists leak on app_public.products;\ncreate policy leak on app_public.products for select using (true);`,
      );
      const ran = performance.now() - began;
      figures.refusedMs =
        (await until(async () => (await graphql(token, '{ currentTenant { name } }')).status === 503)) + ran;
      began = performance.now();
      await runCurrent(`${table}\ndrop policy if exists leak on app_public.products;`);
      const fixed = performance.now() - began;
      figures.servedAgainMs =
        (await until(async () => (await graphql(token, '{ currentTenant { name } }')).status === 200)) +
        fixed;
    } finally {
      running = false;
      await loop;
    }
    const unavailable = statuses.filter((entry) => entry.code === 'DATABASE_UNAVAILABLE').length;
    console.info(
      `watch mode: current.sql ran in ${Math.round(figures.ranMs!)} ms; the new table served after ${Math.round(figures.newTableMs!)} ms, ` +
        `again after a re-run ${Math.round(figures.rerunServedMs!)} ms; a leak refused after ${Math.round(figures.refusedMs!)} ms, ` +
        `served again ${Math.round(figures.servedAgainMs!)} ms after its fix; ${statuses.length} requests meanwhile, ${unavailable} DATABASE_UNAVAILABLE; ` +
        `statuses ${JSON.stringify(
          Object.groupBy(statuses, (entry) => `${entry.status} ${entry.code ?? ''}`),
          (key, value) => (Array.isArray(value) ? value.length : value),
        )}`,
    );
    console.info(
      `watch mode: the event loop was blocked for up to ${Math.round(figures.blockedMs!)} ms by a rebuild; errors logged: ${JSON.stringify(logLines.filter((line) => line.err).map((line) => `${line.msg}: ${line.err}`))}`,
    );
    expect(unavailable).toBe(0);
    // Seconds, not at once: a rebuild is seconds of CPU (3-7 s measured on 2 busy cores).
    // The bound says only that each happens without a restart.
    for (const key of ['newTableMs', 'refusedMs', 'servedAgainMs'])
      expect(figures[key], key).toBeLessThan(30_000);
  },
);

test('a connection that only timed out does not close the database gate while the server answers; a refused one does', async () => {
  const quiet = pino({ level: 'silent' });
  const timedOut = new Error('Connection terminated due to connection timeout');
  const gate = createDatabaseGate(location.authenticatorUrl, quiet);
  // The server is there: the pool was busy, or the event loop blocked past the connect timer.
  gate.report(timedOut);
  gate.report(new Error('timeout exceeded when trying to connect'));
  // Open at once and all along (no 503 for anyone meanwhile), not closed and reopened by the probe.
  const seen = new Set<boolean>();
  for (let i = 0; i < 50; i += 1) {
    seen.add(gate.isOpen());
    await sleep(20);
  }
  expect([...seen]).toEqual([true]);
  // A server that does not answer (nothing listens on that port): closed once that is confirmed.
  const url = new URL(location.authenticatorUrl);
  url.port = String(await closedPort());
  const deadGate = createDatabaseGate(url.toString(), quiet);
  deadGate.report(timedOut);
  await expect.poll(() => deadGate.isOpen(), { timeout: 5_000 }).toBe(false);
  // A refused connection is proof enough at once.
  gate.report(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  expect(gate.isOpen()).toBe(false);
  gate.close();
  deadGate.close();
});

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
