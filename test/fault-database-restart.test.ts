// PostgreSQL restarted under load. Proves that while the database is down the API
// answers every request at once with DATABASE_UNAVAILABLE: 503 when the closed gate
// refuses it, 200 with the code when it was executing as the database went (never a 500, never a
// hang, never a crash or an unhandled rejection), that /readyz says so, that it serves
// again by itself once the database is back (no API restart), and that every mutation
// it acknowledged survived the restart: zero lost writes. Also that start-up with no
// database fails promptly with a clear message instead of a stack trace.
//
// The cluster here is this file's own embedded PostgreSQL, never the shared test server.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { presetFromEnv, readEnv } from '../src/config.ts';
import { startEmbeddedPostgres, type EmbeddedCluster } from '../src/database/embedded-postgres.ts';
import type { EmbeddedPostgresOptions } from '../src/database/embedded-postgres-process.ts';
import { databaseOn, newLogins, newPassword, type DatabaseLocation } from '../src/database/location.ts';
import { prepareDatabase, projectRoot } from '../src/database/migrations.ts';
import { startApiServer, StartupError, type ApiServer, type ApiServerOptions } from '../src/server.ts';
import { TEST_SECRET, tokenFor } from './support/api.ts';

// A client gives up after this; every answer, outage or not, must come well before.
const CLIENT_TIMEOUT_MS = 3_000;
const OUTAGE_MS = 2_000;

const env = readEnv({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, TRUSTED_DOCUMENTS: 'off' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// Below Linux's ephemeral range (32768-60999): while the cluster is down, nothing that
// asks the kernel for "any port" (the other test files' servers) can take this one.
async function portBelowEphemeralRange(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await portIsFree(port)) return port;
  }
}

async function withOwner<T>(ownerUrl: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

interface Writer {
  tenantId: string;
  token: string;
}

/** Two tenants with a member and an admin each: four writers, one load loop each. */
async function createWriters(ownerUrl: string): Promise<Writer[]> {
  const writers: Writer[] = [];
  await withOwner(ownerUrl, async (db) => {
    for (const label of ['north', 'south']) {
      const tenantId = randomUUID();
      await db.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3)', [
        tenantId,
        `${label}-${tenantId.slice(0, 8)}`,
        label,
      ]);
      for (const role of ['member', 'admin']) {
        const userId = randomUUID();
        await db.query('insert into app_public.users (id, email) values ($1, $2)', [
          userId,
          `${role}-${userId}@example.test`,
        ]);
        await db.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [
          tenantId,
          userId,
          role,
        ]);
        writers.push({ tenantId, token: tokenFor({ userId, tenantId }, { expiresIn: '10m' }) });
      }
    }
  });
  return writers;
}

interface Outcome {
  loop: number;
  kind: 'create' | 'list';
  name?: string;
  startedAt: number;
  endedAt: number;
  /** 0: no answer (timeout or connection error). */
  status: number;
  codes: string[];
  acknowledged: boolean;
}

async function graphql(url: string, token: string, query: string, variables?: Record<string, unknown>) {
  const startedAt = performance.now();
  try {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const body = (await response.json()) as {
      data?: any;
      errors?: Array<{ extensions?: { code?: string } }>;
    };
    const codes = (body.errors ?? []).map((error) => error.extensions?.code ?? 'NO_CODE');
    return { startedAt, endedAt: performance.now(), status: response.status, codes, data: body.data };
  } catch (error) {
    return {
      startedAt,
      endedAt: performance.now(),
      status: 0,
      codes: [(error as Error).name],
      data: undefined,
    };
  }
}

const CREATE = /* GraphQL */ `
  mutation ($name: String!, $price: BigFloat!) {
    createProduct(input: { name: $name, price: $price }) {
      product {
        name
      }
    }
  }
`;
const LIST = /* GraphQL */ `
  {
    products(first: 20, orderBy: CREATED_AT_DESC) {
      totalCount
      nodes {
        name
        price
      }
    }
  }
`;

describe('PostgreSQL restarted while the API is under load', () => {
  let dataDir: string;
  let clusterOptions: EmbeddedPostgresOptions;
  let cluster: EmbeddedCluster | undefined;
  let location: DatabaseLocation;
  let api: ApiServer;
  // What would end a production process: an unhandled rejection, or an uncaught
  // exception (the monitor only watches; vitest's own handlers still run).
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtExceptionMonitor', onUnhandled);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-restart-pg-'));
    clusterOptions = {
      dataDir,
      port: await portBelowEphemeralRange(),
      superuser: 'postgres',
      superuserPassword: newPassword(),
      settings: {},
    };
    cluster = await startEmbeddedPostgres(clusterOptions);

    // The cluster is stopped and started again by the tests themselves.
    location = databaseOn(
      { rootUrl: cluster.rootUrl, embedded: true },
      'tenantgraph_restart',
      newLogins('tenantgraph'),
      env,
    );
    await prepareDatabase(location, () => {});

    api = await startApiServer({
      preset: {
        extends: [presetFromEnv(env)],
        grafserv: { port: 0 },
        // The point is the outage: a 429 from the per-tenant budget would only blur it.
        tenantgraph: { budget: null },
      },
      authenticatorUrl: location.authenticatorUrl,
      verifyToken: createTokenVerifier({
        key: { kind: 'secret', secret: TEST_SECRET },
        clockToleranceSeconds: 0,
      }),
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    });
  });

  afterAll(async () => {
    await api?.close();
    await cluster?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtExceptionMonitor', onUnhandled);
  });

  test(
    '503 at once while it is down, serving again without a restart, no acknowledged write lost',
    { timeout: 60_000 },
    async () => {
      const writers = await createWriters(location.ownerUrl);
      const outcomes: Outcome[] = [];
      let running = true;

      const loop = async (writer: Writer, index: number) => {
        for (let seq = 0; running; seq += 1) {
          const name = `restart-${index}-${seq}-${randomUUID().slice(0, 8)}`;
          const created = await graphql(api.url, writer.token, CREATE, {
            name,
            price: `${(seq % 90) + 1}.25`,
          });
          const acknowledged =
            created.status === 200 &&
            created.codes.length === 0 &&
            created.data?.createProduct?.product?.name === name;
          outcomes.push({ loop: index, kind: 'create', name, ...created, acknowledged });
          const listed = await graphql(api.url, writer.token, LIST);
          outcomes.push({ loop: index, kind: 'list', ...listed, acknowledged: false });
          // Refused requests come back at once; a short pause keeps the loop from spinning.
          if (created.status !== 200 || listed.status !== 200) await sleep(25);
        }
      };
      const readyz = async () =>
        (await fetch(`${api.url}/readyz`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).status;
      const waitFor = async (what: string, done: () => boolean | Promise<boolean>, withinMs: number) => {
        const deadline = performance.now() + withinMs;
        while (!(await done())) {
          if (performance.now() > deadline) throw new Error(`${what} did not happen within ${withinMs} ms`);
          await sleep(50);
        }
      };

      const scenario = async () => {
        // Real traffic first, however busy the machine: writes acknowledged from every loop.
        await sleep(1_500);
        const acknowledgedBy = (index: number) =>
          outcomes.filter((o) => o.loop === index && o.acknowledged).length;
        await waitFor(
          'acknowledged writes from every loop',
          () => writers.every((_, index) => acknowledgedBy(index) >= 5),
          20_000,
        );
        const readyBefore = await readyz();

        // The database goes away (fast shutdown: sessions are terminated) and stays away.
        const stopBegan = performance.now();
        await cluster!.stop();
        const stopped = performance.now();
        await sleep(OUTAGE_MS / 2);
        const readyDuringOutage = await readyz();
        // Export downloads are behind the same gate.
        const download = await fetch(`${api.url}/exports/${randomUUID()}`, {
          headers: { authorization: `Bearer ${writers[0]!.token}` },
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        });
        const downloadDuringOutage = {
          status: download.status,
          code: ((await download.json()) as { errors?: Array<{ extensions?: { code?: string } }> })
            .errors?.[0]?.extensions?.code,
        };
        await sleep(OUTAGE_MS / 2);

        const startBegan = performance.now();
        cluster = await startEmbeddedPostgres(clusterOptions);
        const started = performance.now();
        await waitFor(
          'a successful request after the restart',
          () => outcomes.some((o) => o.startedAt > started && o.status === 200 && o.codes.length === 0),
          10_000,
        );
        const servingAgain = performance.now();
        await waitFor('/readyz answering 200', async () => (await readyz()) === 200, 5_000);
        await sleep(1_000);
        await waitFor(
          'more traffic after recovery',
          () => outcomes.filter((o) => o.startedAt > servingAgain).length >= 4 * writers.length,
          10_000,
        );
        return {
          readyBefore,
          readyDuringOutage,
          downloadDuringOutage,
          stopBegan,
          stopped,
          startBegan,
          started,
          servingAgain,
        };
      };

      const loops = writers.map((writer, index) => loop(writer, index));
      let phases: Awaited<ReturnType<typeof scenario>>;
      try {
        phases = await scenario();
      } finally {
        running = false;
        await Promise.all(loops);
      }
      const {
        readyBefore,
        readyDuringOutage,
        downloadDuringOutage,
        stopBegan,
        stopped,
        startBegan,
        started,
        servingAgain,
      } = phases;

      const before = outcomes.filter((o) => o.endedAt < stopBegan);
      const outage = outcomes.filter((o) => o.startedAt >= stopped && o.startedAt < startBegan);
      const afterRecovery = outcomes.filter((o) => o.startedAt > servingAgain);
      const describeOutcome = (o: Outcome) =>
        `${o.kind} HTTP ${o.status} ${o.codes.join(',')} in ${Math.round(o.endedAt - o.startedAt)} ms`;
      // Refused by the closed gate (503), or executed as the database went (200, by GraphQL over HTTP).
      const unavailable = (o: Outcome) =>
        (o.status === 503 || o.status === 200) &&
        o.codes.length > 0 &&
        o.codes.every((code) => code === 'DATABASE_UNAVAILABLE');

      expect([readyBefore, readyDuringOutage]).toEqual([200, 503]);
      expect(downloadDuringOutage).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      expect(before.filter((o) => o.acknowledged).length).toBeGreaterThanOrEqual(5 * writers.length);
      expect(before.filter((o) => o.status !== 200 || o.codes.length > 0).map(describeOutcome)).toEqual([]);
      // Down: every request is refused quickly, with the code clients can retry on.
      expect(new Set(outage.map((o) => o.loop)).size).toBe(writers.length);
      expect(outage.filter((o) => !unavailable(o)).map(describeOutcome)).toEqual([]);
      expect(outage.filter((o) => o.status === 503).length).toBeGreaterThan(0);
      // Throughout, including requests in flight at the shutdown and during the restart:
      // an answer in time, and either success or DATABASE_UNAVAILABLE.
      expect(
        outcomes
          .filter((o) => o.endedAt - o.startedAt >= CLIENT_TIMEOUT_MS || o.status === 0)
          .map(describeOutcome),
      ).toEqual([]);
      const unexpected = (o: Outcome) => !(o.status === 200 && o.codes.length === 0) && !unavailable(o);
      expect(outcomes.filter(unexpected).map(describeOutcome)).toEqual([]);
      // Back: the API serves again by itself, and nothing is still failing.
      expect(
        afterRecovery.filter((o) => o.status !== 200 || o.codes.length > 0).map(describeOutcome),
      ).toEqual([]);

      const creates = outcomes.filter((o) => o.kind === 'create');
      const acknowledged = creates.filter((o) => o.acknowledged).map((o) => o.name!);
      const refused = creates.filter(unavailable).map((o) => o.name!);
      const present = await withOwner(location.ownerUrl, async (db) => {
        const { rows } = await db.query<{ name: string }>(
          'select name from app_public.products where name = any($1)',
          [creates.map((o) => o.name)],
        );
        return new Set(rows.map((row) => row.name));
      });
      const lost = acknowledged.filter((name) => !present.has(name));
      // A refused mutation may still have committed (the answer was lost, not the write);
      // clients learn that only by reading back. Counted, not asserted.
      const refusedButCommitted = refused.filter((name) => present.has(name));
      console.info(
        `restart under load: ${outcomes.length} requests, ${creates.length} mutations: ${acknowledged.length} acknowledged, ` +
          `${refused.length} refused as DATABASE_UNAVAILABLE (${refusedButCommitted.length} of them committed anyway), ${lost.length} lost; ` +
          `outage ${Math.round(startBegan - stopped)} ms with ${outage.length} requests answered in at most ` +
          `${Math.round(Math.max(...outage.map((o) => o.endedAt - o.startedAt)))} ms; serving again ${Math.round(servingAgain - started)} ms ` +
          `after PostgreSQL was up (its start took ${Math.round(started - startBegan)} ms)`,
      );
      expect(lost).toEqual([]);
      expect(unhandled.map(String)).toEqual([]);
    },
  );
});

describe('start-up without a database', () => {
  test('startApiServer rejects promptly with a StartupError that names the problem', async () => {
    // Free a moment ago, so nothing listens there: connections are refused.
    const port = await portBelowEphemeralRange();
    const options: ApiServerOptions = {
      preset: { extends: [presetFromEnv(env)], grafserv: { port: 0 } },
      authenticatorUrl: `postgres://tenantgraph_authenticator:secret@127.0.0.1:${port}/tenantgraph`,
      verifyToken: createTokenVerifier({
        key: { kind: 'secret', secret: TEST_SECRET },
        clockToleranceSeconds: 0,
      }),
      logger: pino({ level: 'silent' }),
    };
    const began = performance.now();
    const error = await startApiServer(options).then(
      () => expect.unreachable('the server started without a database'),
      (failure: unknown) => failure,
    );
    expect(performance.now() - began).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(
      /Cannot reach the database as the authenticator role: .*ECONNREFUSED/,
    );
  });

  test('npm start exits non-zero within seconds, with a clear message and no stack trace', async () => {
    // Free a moment ago, so nothing listens there: connections are refused.
    const port = await portBelowEphemeralRange();
    // An empty working folder: no developer's .env can change what is tested.
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-nodb-'));
    try {
      const began = performance.now();
      const child = spawn(process.execPath, [path.join(projectRoot, 'src/main.ts')], {
        cwd,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          GRAPHILE_ENV: 'production',
          JWT_SECRET: TEST_SECRET,
          DATABASE_URL: `postgres://tenantgraph_owner:secret@127.0.0.1:${port}/tenantgraph`,
          AUTH_DATABASE_URL: `postgres://tenantgraph_authenticator:secret@127.0.0.1:${port}/tenantgraph`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await new Promise<number | null>((resolve) =>
        child.once('close', (exitCode) => resolve(exitCode)),
      );
      clearTimeout(timer);

      expect(performance.now() - began, output).toBeLessThan(10_000);
      expect(code, output).not.toBe(0);
      expect(code, output).not.toBeNull();
      expect(output).toMatch(/Cannot reach the database/);
      expect(output).toContain(`127.0.0.1:${port}`);
      // Neither a printed stack nor one inside a JSON log line.
      expect(output.split('\n').filter((line) => line.startsWith('    at '))).toEqual([]);
      expect(output).not.toMatch(/\\n\s+at |"stack"/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
