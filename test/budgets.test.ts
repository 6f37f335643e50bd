// Budgets in cost points per verified tenant, and the per-tenant bulkhead: one tenant
// cannot spend another's budget, out-spend its own, or hold the pool.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { createBulkhead, BulkheadFull } from '../src/limits/bulkhead.ts';
import { PRICED_BY_ESTIMATE, tokenFor, useApi, type TestApi } from './support/api.ts';
import { capturedLogger } from './support/log-capture.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { listening, missing } from './support/system-tools.ts';

let a: TenantFixture;
let b: TenantFixture;
beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('budget-a'), createTenant('budget-b')]);
});
const bearer = (userId: string, tenantId?: string) => ({
  authorization: `Bearer ${tokenFor({ userId, ...(tenantId && { tenantId }) })}`,
});
// 10 for the operation, 1 for the connection, one per product (a fixture tenant has 2).
const LIST = '{ products(first: 2) { nodes { name } } }';
const LIST_COST = 13;

/** Sends `query` until the answer is a 429, at most `limit` times; the statuses seen. */
async function spendUntilThrottled(api: TestApi, headers: Record<string, string>, query = LIST, limit = 50) {
  const statuses: number[] = [];
  while (statuses.length < limit) {
    const { status } = await api.post({ query }, headers);
    statuses.push(status);
    if (status === 429) break;
  }
  return statuses;
}

describe('a bucket of cost points per tenant, in memory', () => {
  // 100 points, restored at one point every 100 s: a test's worth of requests cannot refill it.
  const { logger, lines } = capturedLogger();
  // 429s answered at once here; holding them back has its own test below.
  const api = useApi({
    budget: { maxPoints: 100, restoreRate: 0.01 },
    throttleDelayMs: 0,
    logger,
    work: PRICED_BY_ESTIMATE,
  });

  test('a tenant that spends its bucket gets 429 RATE_LIMITED with Retry-After and its throttle status; another tenant is unaffected', async () => {
    const statuses = await spendUntilThrottled(api, bearer(a.users.viewer, a.id));
    // 100 points buy 7 operations of 13.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 429]);
    const refused = await api.post({ query: LIST }, bearer(a.users.owner, a.id));
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0]).toMatchObject({
      extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) },
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.extensions.cost).toMatchObject({
      requestedQueryCost: LIST_COST,
      actualQueryCost: 0,
      throttleStatus: { maximumAvailable: 100, restoreRate: 0.01 },
    });
    expect(refused.body.extensions.cost.throttleStatus.currentlyAvailable).toBeLessThan(LIST_COST);
    const other = await api.post({ query: LIST }, bearer(b.users.viewer, b.id));
    expect(other.status).toBe(200);
    expect(other.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(100 - LIST_COST);
  });

  test('a stranger naming tenant B in their token spends only their own budget, and is never logged as B', async () => {
    const stranger = randomUUID();
    const before = lines.length;
    const statuses = await spendUntilThrottled(api, bearer(stranger, b.id), '{ currentTenant { name } }');
    expect(statuses.at(-1)).toBe(429);
    // B's own users still have B's whole bucket (less B's one request above).
    const owner = await api.post({ query: LIST }, bearer(b.users.owner, b.id));
    expect(owner.status).toBe(200);
    expect(owner.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(100 - 2 * LIST_COST);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const strangers = lines
      .slice(before)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.userId === stranger);
    expect(strangers.length).toBe(statuses.length);
    for (const entry of strangers) expect(entry.tenantId).toBeUndefined();
  });

  test('unspent points come back: a page asked for 50 rows that returned 2 costs 13', async () => {
    const c = await createTenant('budget-refund');
    const { body } = await api.post(
      { query: '{ products(first: 50) { nodes { name } } }' },
      bearer(c.users.viewer, c.id),
    );
    expect(body.extensions.cost).toMatchObject({
      requestedQueryCost: 61,
      actualQueryCost: LIST_COST,
      throttleStatus: { currentlyAvailable: 100 - LIST_COST },
    });
  });

  test('refusals cost too: a tenant that keeps sending refused queries runs out of budget like any other', async () => {
    const c = await createTenant('budget-refusals');
    const statuses = await spendUntilThrottled(
      api,
      bearer(c.users.viewer, c.id),
      '{ products(first: 5000) { nodes { name } } }',
    );
    // Ten refusals of 10 points each empty the bucket; the eleventh is throttled.
    expect(statuses).toEqual([...Array(10).fill(400), 429]);
    const valid = await api.post({ query: LIST }, bearer(c.users.viewer, c.id));
    expect(valid.status).toBe(429);
  });

  test('anonymous requests are charged to their IP, signed-in users without a tenant to themselves', async () => {
    const anonymous = await api.post({ query: '{ currentUser { rowId } }' });
    expect(anonymous.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(anonymous.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(100 - 10);
    const user = randomUUID();
    const first = await api.post({ query: '{ currentUser { rowId } }' }, bearer(user));
    const second = await api.post({ query: '{ currentUser { rowId } }' }, bearer(user));
    expect(
      first.body.extensions.cost.throttleStatus.currentlyAvailable -
        second.body.extensions.cost.throttleStatus.currentlyAvailable,
    ).toBe(10);
  });
});

describe('the bucket refills at a steady rate', () => {
  const api = useApi({
    budget: { maxPoints: 30, restoreRate: 20 },
    throttleDelayMs: 0,
    work: PRICED_BY_ESTIMATE,
  });

  test('after the Retry-After it announced, a throttled tenant is served again', async () => {
    const c = await createTenant('budget-refill');
    const statuses = await spendUntilThrottled(api, bearer(c.users.viewer, c.id));
    expect(statuses).toEqual([200, 200, 429]);
    const refused = await api.post({ query: LIST }, bearer(c.users.viewer, c.id));
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get('retry-after')) * 1000));
    expect((await api.post({ query: LIST }, bearer(c.users.viewer, c.id))).status).toBe(200);
  });
});

describe('a client that ignores Retry-After', () => {
  const api = useApi({
    budget: { maxPoints: 30, restoreRate: 0.01 },
    throttleDelayMs: 400,
    work: PRICED_BY_ESTIMATE,
  });

  test('gets its 429s held back, so it cannot spin on cheap refusals; other tenants are answered at once', async () => {
    const c = await createTenant('budget-spin');
    expect(await spendUntilThrottled(api, bearer(c.users.viewer, c.id))).toEqual([200, 200, 429]);
    const spinning = Array.from({ length: 5 }, async () => {
      const started = performance.now();
      const { status } = await api.post({ query: LIST }, bearer(c.users.viewer, c.id));
      return { status, ms: performance.now() - started };
    });
    const started = performance.now();
    const other = await api.post({ query: LIST }, bearer(b.users.viewer, b.id));
    const otherMs = performance.now() - started;
    for (const { status, ms } of await Promise.all(spinning)) {
      expect(status).toBe(429);
      expect(ms).toBeGreaterThanOrEqual(350);
    }
    expect(other.status).toBe(200);
    expect(otherMs).toBeLessThan(350);
  });
});

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new URL(redisUrl);
const noRedis = missing(
  'Redis',
  await listening(redis.hostname, Number(redis.port || 6379)),
  'set TEST_REDIS_URL, or run redis-server on 127.0.0.1:6379',
);

describe.skipIf(noRedis)('budgets in Redis: API processes share one bucket per tenant', () => {
  const keyPrefix = `tenantgraph-test:${randomUUID()}`;
  const first = useApi({
    budget: { maxPoints: 60, restoreRate: 0.01, redisUrl, keyPrefix },
    throttleDelayMs: 0,
    work: PRICED_BY_ESTIMATE,
  });
  const second = useApi({
    budget: { maxPoints: 60, restoreRate: 0.01, redisUrl, keyPrefix },
    throttleDelayMs: 0,
    work: PRICED_BY_ESTIMATE,
  });

  test('two requests on each of two servers spend the bucket; the fifth, on either, is refused', async () => {
    const c = await createTenant('budget-redis');
    const statuses = [];
    for (const api of [first, second, first, second, first])
      statuses.push((await api.post({ query: LIST }, bearer(c.users.viewer, c.id))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    const refused = await second.post({ query: LIST }, bearer(c.users.owner, c.id));
    expect([refused.status, refused.body.errors[0].extensions.code]).toEqual([429, 'RATE_LIMITED']);
  });
});

describe('a bulkhead per tenant', () => {
  const api = useApi({ concurrency: { perKey: 1, queue: 0, queueTimeoutMs: 1_000 }, throttleDelayMs: 0 });

  test('beyond its concurrency a tenant is refused with 429 CONCURRENCY_LIMITED, while another tenant is served', async () => {
    const query = '{ products(first: 2) { nodes { name category { name products { totalCount } } } } }';
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => api.post({ query }, bearer(a.users.viewer, a.id))),
    );
    const refused = burst.filter((answer) => answer.status === 429);
    expect(burst.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.body.errors[0].extensions.code).toBe('CONCURRENCY_LIMITED');
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    expect((await api.post({ query }, bearer(b.users.viewer, b.id))).status).toBe(200);
  });

  test('slots pass to the next in line, a full line is refused at once, and a long wait gives up', async () => {
    const bulkhead = createBulkhead({ perKey: 2, queue: 1, queueTimeoutMs: 50 });
    const [one, two] = [await bulkhead.enter('t'), await bulkhead.enter('t')];
    const third = bulkhead.enter('t');
    await expect(bulkhead.enter('t')).rejects.toBeInstanceOf(BulkheadFull);
    await expect(bulkhead.enter('other')).resolves.toBeTypeOf('function');
    one();
    one(); // a second release of the same slot changes nothing
    const three = await third;
    const late = bulkhead.enter('t');
    await expect(late).rejects.toBeInstanceOf(BulkheadFull);
    two();
    three();
    await expect(bulkhead.enter('t')).resolves.toBeTypeOf('function');
  });
});
