// Isolation priced by work (src/request/work.ts, src/limits/work-pricing.ts), as a heavy
// tenant would attack it: many parallel aliases of a statement that reads its whole table
// (an aggregate over tens of thousands of its rows) must not take the pool, close the
// gate, run for the whole statement timeout on a cheap budget, or cost less than the
// database time it took; and subscriptions' re-reads are paid by their subscriber.
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createConnectionShares, DatabaseBusy } from '../src/request/work.ts';
import { createDatabaseGate, isDatabaseUnavailable } from '../src/http/database-gate.ts';
import { statementTimeoutFor } from '../src/limits/work-pricing.ts';
import { createReadSlots } from '../src/realtime/read-slots.ts';
import { tokenFor, useApi, type TestApi } from './support/api.ts';
import { asOwner, bulkProducts } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { capturedLogger } from './support/log-capture.ts';
import { connectSocket, PRODUCT_CHANGED, type SocketClient } from './support/realtime.ts';

const database = inject('database');
const ROWS = 300_000;
// Each fixture tenant has two products of its own besides.
const NAMES = String(ROWS + 2);

// Reads (and sorts) every one of the tenant's rows. The estimate prices those rows
// (row-prices.ts: about 9,600 points for one alias here), so servers that must let it run
// allow operations that dear (ALLOWS_HEAVY); to see the database time outweigh an estimate,
// a test prices that time dearer than the default 10 points per ms. The aliases differ in
// `first` (which aggregates ignore), else grafast would run one statement for all of them.
const heavy = (first: number) =>
  `products(first: ${first}) { aggregates { distinctCount { name createdAt updatedAt price rowId categoryId tenantId } } }`;
const HEAVY_ONE = heavy(1);
const HEAVY = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: ${heavy(i + 1)}`).join(' ')} }`;
const LIST = '{ products(first: 2) { nodes { name } } }';
// A bucket so large that its statement timeout is STATEMENT_TIMEOUT_MS's 5 s.
const RICH = { maxPoints: 1_000_000, restoreRate: 1_000 };
// An operation limit over the 15 heavy aliases' estimate (about 144,000 points).
const ALLOWS_HEAVY = { maxQueryCost: 1_000_000 };

/** The test server's own connections are told apart in pg_stat_activity by their application_name. */
function authenticatorAs(applicationName: string): string {
  const url = new URL(database.authenticatorUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

const bearer = (tenant: TenantFixture) => ({
  authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
});

let big: TenantFixture;
let victim: TenantFixture;
beforeAll(async () => {
  [big, victim] = await Promise.all([createTenant('work-big'), createTenant('work-victim')]);
  await bulkProducts(big.id, ROWS);
  await asOwner((db) => db.query('analyze app_public.products'));
}, 120_000);

/** Samples, every few ms until stopped, how many connections named `applicationName` are in a transaction. */
/** Counts the API's busy connections every few ms; resolves once the first count is in. */
async function sampleConnections(applicationName: string) {
  const client = new pg.Client({ connectionString: database.rootUrl });
  const counts: number[] = [];
  let running = true;
  let sampling!: () => void;
  const firstSample = new Promise<void>((resolve) => (sampling = resolve));
  const done = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where application_name = $1 and state <> 'idle'`,
        [applicationName],
      );
      counts.push(rows[0]!.n);
      sampling();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await client.end();
  })();
  // A loaded machine took longer to open the sampler's connection than the operation took
  // to run: the sampler saw none of it.
  await Promise.race([firstSample, done]);
  return {
    async stop() {
      running = false;
      await done;
      return counts;
    },
  };
}

describe('connections are the bulkhead', () => {
  const name = `work-pricing-${randomUUID().slice(0, 8)}`;
  const api = useApi({
    authenticatorUrl: authenticatorAs(name),
    poolSize: 10,
    budget: RICH,
    limits: ALLOWS_HEAVY,
    work: { connectionsPerKey: 3 },
  });

  test('a 15-alias operation of one tenant holds at most TENANT_CONNECTIONS (3) of the 10 pool connections at once', async () => {
    // Up to five runs: each must stay within its share; at least one must be seen running in
    // parallel (on a loaded machine one run's statements were once seen only one at a time).
    const peaks: number[] = [];
    for (let run = 0; run < 5 && !peaks.some((peak) => peak >= 2); run += 1) {
      const sampler = await sampleConnections(name);
      const started = performance.now();
      const { status, body } = await api.post({ query: HEAVY }, bearer(big));
      const elapsed = performance.now() - started;
      const counts = await sampler.stop();
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.a14.aggregates.distinctCount.name).toBe(NAMES);
      const peak = Math.max(...counts);
      expect(peak, `${counts.length} samples over ${Math.round(elapsed)} ms`).toBeLessThanOrEqual(3);
      peaks.push(peak);
      // Its statements' time was counted, 15 of them in 3 lanes: more than a third of the time the operation took.
      expect(body.extensions.cost.databaseMs).toBeGreaterThan(elapsed / 3);
    }
    expect(Math.max(...peaks), `peaks of ${peaks.length} runs: ${peaks.join(', ')}`).toBeGreaterThanOrEqual(
      2,
    );
  });
});

describe('a busy pool is not a dead database', () => {
  test('a pool-acquire timeout does not mean the database is unreachable; a refused connection does', () => {
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(false);
    expect(
      isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
  });

  test("the gate's probe reopens it on a connection of its own, without the pool", async () => {
    const { logger } = capturedLogger();
    const gate = createDatabaseGate(database.authenticatorUrl, logger, 50);
    try {
      gate.report(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      expect(gate.isOpen()).toBe(false);
      await expect.poll(() => gate.isOpen(), { timeout: 5_000 }).toBe(true);
    } finally {
      gate.close();
    }
  });

  describe('one tenant hogging a pool of 2 within its share of 1', () => {
    // A large budget: statements may wait on the lock for the whole STATEMENT_TIMEOUT_MS.
    const api = useApi({ poolSize: 2, budget: RICH, work: { connectionsPerKey: 1 } });

    test('another tenant keeps being answered while it runs', async () => {
      const hog = await createTenant('work-hog-1');
      const { during, hogs } = await whileHolding(api, hog, 3, 2_000, () =>
        api.post({ query: LIST }, bearer(victim)),
      );
      // Its three updates waited on the lock one at a time, in its one connection: all done, late.
      expect(hogs.map((h) => h.status)).toEqual([200, 200, 200]);
      expect(during.length).toBeGreaterThan(3);
      expect(during.filter((answer) => answer.status !== 200)).toEqual([]);
    });
  });

  describe('one tenant allowed the whole pool of 2', () => {
    const api = useApi({
      poolSize: 2,
      budget: RICH,
      work: { connectionsPerKey: 2 },
      timeouts: { statementMs: 5_000, requestMs: 30_000, connectMs: 500 },
    });

    test('another tenant gets 503 DATABASE_BUSY with Retry-After, never DATABASE_UNAVAILABLE, and the gate stays open', async () => {
      const hog = await createTenant('work-hog-2');
      // The victim's membership verified (and cached) first: what waits below is its operation's statement.
      expect((await api.post({ query: LIST }, bearer(victim))).status).toBe(200);
      const { during, hogs } = await whileHolding(api, hog, 2, 2_000, () =>
        api.post({ query: LIST }, bearer(victim)),
      );
      expect(hogs.map((h) => h.status)).toEqual([200, 200]);
      const codes = during.map((answer) => answer.body.errors?.[0]?.extensions?.code);
      expect(codes.length).toBeGreaterThan(0);
      // The pool was saturated: the victim waited past DATABASE_CONNECT_TIMEOUT_MS, every time.
      expect(new Set(codes)).toEqual(new Set(['DATABASE_BUSY']));
      for (const answer of during) {
        expect(answer.status).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('1');
      }
      // The gate never closed: once the hog is done, the victim is served at once.
      const after = await api.post({ query: LIST }, bearer(victim));
      expect(after.status).toBe(200);
      expect(after.body.data.products.nodes).toHaveLength(2);
    });
  });
});

const UPDATE =
  'mutation ($id: ID!) { updateProductById(input: { id: $id, patch: { price: "3" } }) { product { price } } }';

/**
 * `hog`'s member sends `count` updates of one of its products while the test holds that
 * row's lock for `holdMs`: each update holds a pool connection while it waits. Meanwhile
 * `probe` runs again and again; its answers, and the hog's, once the lock is released.
 */
async function whileHolding<T>(
  api: TestApi,
  hog: TenantFixture,
  count: number,
  holdMs: number,
  probe: () => Promise<T>,
): Promise<{ during: T[]; hogs: Array<{ status: number; body: any }> }> {
  const member = { authorization: `Bearer ${tokenFor({ userId: hog.users.member, tenantId: hog.id })}` };
  const listed = await api.post({ query: '{ products(first: 10) { nodes { id rowId } } }' }, member);
  const id = listed.body.data.products.nodes.find(
    (node: { rowId: string }) => node.rowId === hog.productIds[0],
  ).id as string;
  const locker = new pg.Client({ connectionString: database.ownerUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('select 1 from app_public.products where tenant_id = $1 and id = $2 for update', [
      hog.id,
      hog.productIds[0],
    ]);
    const hogs = Array.from({ length: count }, () => api.post({ query: UPDATE, variables: { id } }, member));
    // Let the updates reach the lock before the probes start.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const during: T[] = [];
    const until = performance.now() + holdMs;
    while (performance.now() < until) during.push(await probe());
    await locker.query('commit');
    return { during, hogs: await Promise.all(hogs) };
  } finally {
    await locker.end();
  }
}

describe('charged for the work done', () => {
  // 200,000 points, regained at one every 100 s: what an operation is charged shows in the
  // bucket. A millisecond at 1,000 points: the 60 ms it is cut at outweigh its estimate.
  const api = useApi({
    budget: { maxPoints: 200_000, restoreRate: 0.01 },
    limits: ALLOWS_HEAVY,
    throttleDelayMs: 0,
    timeouts: { statementMs: 60, requestMs: 30_000, connectMs: 2_000 },
    work: { minStatementMs: 60, pointsPerDatabaseMs: 1_000 },
  });

  test('a statement cancelled by the statement timeout is charged the whole timeout', async () => {
    const { body } = await api.post({ query: `{ ${HEAVY_ONE} }` }, bearer(big));
    expect(body.errors?.[0].extensions.code, JSON.stringify(body)).toBe('QUERY_TIMEOUT');
    const { cost } = body.extensions;
    expect(cost.databaseMs).toBeGreaterThanOrEqual(60);
    // 60 ms at 1,000 points per ms, at least; never refunded down to the estimate.
    expect(cost.actualQueryCost).toBeGreaterThanOrEqual(60_000);
    expect(cost.actualQueryCost).toBeGreaterThan(cost.requestedQueryCost);
    expect(cost.throttleStatus.currentlyAvailable).toBe(200_000 - cost.actualQueryCost);
  });
});

describe('charged for the work done, beyond the estimate', () => {
  // 200,000 points at 1,000 per ms: 200 ms of database time, while 15 reads of 300,000 rows
  // take far more; the statement timeout kept at 5 s (the floor), so that every read runs
  // to its end.
  const api = useApi({
    budget: { maxPoints: 200_000, restoreRate: 0.01 },
    limits: ALLOWS_HEAVY,
    throttleDelayMs: 0,
    work: { minStatementMs: 5_000, pointsPerDatabaseMs: 1_000 },
  });

  test('an operation whose database time exceeds its estimate is charged the time, into debt, and the next one waits', async () => {
    const { body } = await api.post({ query: HEAVY }, bearer(big));
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    const { cost } = body.extensions;
    expect(cost.requestedQueryCost).toBeLessThan(200_000);
    // databaseMs is reported to 0.1 ms: 100 points either way at this rate.
    expect(Math.abs(cost.actualQueryCost - cost.databaseMs * 1_000)).toBeLessThanOrEqual(100);
    expect(cost.actualQueryCost).toBeGreaterThan(200_000);
    // In debt, at most one bucket deep: even the cheapest operation is throttled now.
    expect(cost.throttleStatus.currentlyAvailable).toBe(Math.max(-200_000, 200_000 - cost.actualQueryCost));
    const next = await api.post({ query: LIST }, bearer(big));
    expect(next.status).toBe(429);
    expect(next.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    // Another tenant's bucket is its own.
    const other = await api.post({ query: LIST }, bearer(victim));
    expect(other.status).toBe(200);
  });
});

describe('statement time follows the price', () => {
  test('the timeout is what the caller could pay for, between the floor and STATEMENT_TIMEOUT_MS', () => {
    const pricing = { pointsPerDatabaseMs: 10, maxStatementMs: 5_000, minStatementMs: 250 };
    expect(statementTimeoutFor(pricing, 13, 10_000)).toBe(1_001);
    expect(statementTimeoutFor(pricing, 13, 100_000)).toBe(5_000);
    expect(statementTimeoutFor(pricing, 13, 0)).toBe(250);
    expect(statementTimeoutFor(pricing, 13, -500)).toBe(250);
  });

  describe('a caller with little budget left', () => {
    // 10,000 points, of which the estimate takes about 9,600, at 1,000 points per ms: 10 ms
    // of database time at most, so the floor (20 ms here) applies.
    const api = useApi({
      budget: { maxPoints: 10_000, restoreRate: 0.01 },
      limits: ALLOWS_HEAVY,
      throttleDelayMs: 0,
      work: { minStatementMs: 20, pointsPerDatabaseMs: 1_000 },
    });

    test('has its heavy statement cancelled long before STATEMENT_TIMEOUT_MS (5 s); a rich caller runs it', async () => {
      const started = performance.now();
      const { body } = await api.post({ query: `{ ${HEAVY_ONE} }` }, bearer(big));
      const elapsed = performance.now() - started;
      expect(body.errors?.[0]?.extensions.code).toBe('QUERY_TIMEOUT');
      expect(elapsed).toBeLessThan(2_500);
      expect(body.extensions.cost.databaseMs).toBeGreaterThanOrEqual(20);
    });
  });

  describe('a caller with a large budget', () => {
    const api = useApi({
      budget: { maxPoints: 100_000, restoreRate: 0.01 },
      limits: ALLOWS_HEAVY,
      work: { minStatementMs: 20 },
    });

    test('runs the same statement to the end', async () => {
      const { body } = await api.post({ query: `{ ${HEAVY_ONE} }` }, bearer(big));
      expect(body.errors).toBeUndefined();
      expect(body.data.products.aggregates.distinctCount.name).toBe(NAMES);
    });
  });
});

describe('realtime pays', () => {
  const sockets: SocketClient[] = [];
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.dispose()));
  });
  const socketOf = (api: TestApi, tenant: TenantFixture) => {
    const socket = connectSocket(api.url, {
      connectionParams: {
        Authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
      },
    });
    sockets.push(socket);
    return socket;
  };
  const rename = (tenant: TenantFixture, name: string) =>
    asOwner((db) =>
      db.query('update app_public.products set name = $3 where tenant_id = $1 and id = $2', [
        tenant.id,
        tenant.productIds[0],
        name,
      ]),
    );

  describe('with budgets', () => {
    const api = useApi({ budget: { maxPoints: 10_000, restoreRate: 0.01 } });

    test("each event's re-read is charged to the subscriber's tenant, in its extensions.cost", async () => {
      const tenant = await createTenant('work-rt');
      const subscription = await socketOf(api, tenant).subscribe(PRODUCT_CHANGED);
      await rename(tenant, 'first');
      await rename(tenant, 'second');
      const [, first, second] = (await subscription.waitFor(3)).map((event) => ({
        name: event.data?.productChanged.product?.name,
        cost: event.extensions?.cost as {
          actualQueryCost: number;
          databaseMs: number;
          throttleStatus: { currentlyAvailable: number };
        },
      }));
      // Each event reads the row as it is when it is rendered: the first may already see the second name.
      expect(first!.name).toMatch(/^(first|second)$/);
      expect(second!.name).toBe('second');
      for (const { cost } of [first!, second!]) {
        expect(cost.databaseMs).toBeGreaterThan(0);
        // 10 points per ms (databaseMs is rounded to 0.1 ms, the points are not).
        expect(Math.abs(cost.actualQueryCost - cost.databaseMs * 10)).toBeLessThanOrEqual(1);
      }
      // The tenant's bucket went down by what the second read cost.
      const spent =
        first!.cost.throttleStatus.currentlyAvailable - second!.cost.throttleStatus.currentlyAvailable;
      expect(Math.abs(spent - second!.cost.actualQueryCost)).toBeLessThanOrEqual(1);
      // And it is that tenant's bucket: another tenant's has paid only for its own request.
      const other = await api.post({ query: LIST }, bearer(victim));
      expect(other.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(
        10_000 - other.body.extensions.cost.actualQueryCost,
      );
    });
  });

  describe('a subscriber whose budget is spent', () => {
    // 100 points, and database time priced so dear that one re-read spends them all.
    const api = useApi({
      budget: { maxPoints: 100, restoreRate: 0.01 },
      work: { pointsPerDatabaseMs: 100_000 },
    });

    test('has its subscription ended with SUBSCRIPTION_INTERRUPTED instead of reading for free', async () => {
      const tenant = await createTenant('work-rt-broke');
      const subscription = await socketOf(api, tenant).subscribe(PRODUCT_CHANGED);
      await rename(tenant, 'paid for');
      const [, paid] = await subscription.waitFor(2);
      expect(paid!.data?.productChanged.product.name).toBe('paid for');
      expect(paid!.extensions?.cost.throttleStatus.currentlyAvailable).toBeLessThan(0);
      await rename(tenant, 'not read');
      const ended = (await subscription.ended) as Array<{ extensions?: { code?: string } }>;
      expect(ended[0]?.extensions?.code).toBe('SUBSCRIPTION_INTERRUPTED');
      expect(subscription.results).toHaveLength(2);
    });
  });

  test("one tenant's burst of events holds at most its share of the read slots; another tenant's event is read next", async () => {
    const readSlot = createReadSlots({ readConcurrency: 5, perKey: 3, budget: null });
    const held: Array<() => void> = [];
    let granted = 0;
    // 100 events of tenant A (a write seen by 100 of its subscribers), waiting for slots.
    const burst = Array.from({ length: 100 }, () =>
      readSlot('tenant:a').then((release) => {
        granted++;
        held.push(release!);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(granted).toBe(3);
    // B's event is not queued behind A's 97: a slot is free for it at once.
    const forB = await readSlot('tenant:b');
    expect(forB).toBeDefined();
    forB!();
    while (granted < 100) {
      held.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    for (const release of held) release();
    await Promise.all(burst);
  });
});

describe('a connection slow to open', () => {
  test('fails its request as DATABASE_BUSY, keeping the timeout as its cause for the gate to confirm', async () => {
    // A server that accepts connections and never answers: PostgreSQL too loaded to start a backend in time.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'nobody', connectionTimeoutMillis: 200 });
    const shares = createConnectionShares({ perKey: 1, queueTimeoutMs: 1_000 });
    try {
      const error = await shares.connect(pool, 'tenant:slow').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(DatabaseBusy);
      expect(((error as Error).cause as Error).message).toMatch(/connection timeout/);
      // The share was given back: the next statement of the key is not stuck behind it.
      expect(shares.holding('tenant:slow')).toBe(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await pool.end();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
