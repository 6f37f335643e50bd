// Isolation under load: many tenants at once through the real HTTP API and a small
// connection pool, so every server connection serves one tenant after another and any
// setting that outlived its request would show up as a foreign row or a wrong total.
// Every row of every response is checked against the tenant that asked.
import { describe, expect, test } from 'vitest';
import { PRICED_BY_ESTIMATE, tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant } from './support/fixtures.ts';
import { driveTenantTraffic } from './support/tenant-traffic.ts';

const TENANTS = 50;
const REQUESTS = 3_000;
const IN_FLIGHT = 32;
const POOL_SIZE = 4;

// What this checks is isolation, not budgets: the estimate prices the traffic, and the
// measured database time (which a busy machine inflates: it once made one of 3,000
// requests RATE_LIMITED) is priced too low to outweigh it.
const api = useApi({ poolSize: POOL_SIZE, work: PRICED_BY_ESTIMATE });

describe(`${TENANTS} tenants, ${REQUESTS} interleaved requests, ${IN_FLIGHT} in flight over ${POOL_SIZE} connections`, () => {
  test(
    'every row, total and created product belongs to the tenant that asked',
    { timeout: 60_000 },
    async () => {
      const fixtures = await Promise.all(Array.from({ length: TENANTS }, (_, i) => createTenant(`load${i}`)));

      const traffic = await driveTenantTraffic(api, fixtures, {
        tokenFor,
        requests: REQUESTS,
        concurrency: IN_FLIGHT,
      });

      const { counts, foreignRows, failures } = traffic;
      console.log(
        `concurrency-isolation: ${traffic.requests} requests (${counts.list} lists, ${counts.aggregates} aggregates, ${counts.create} creates, ` +
          `${counts.currentTenant} currentTenant) from ${TENANTS} tenants, ${IN_FLIGHT} in flight over ${POOL_SIZE} connections, ` +
          `${traffic.rowsChecked} rows checked, ${foreignRows.length} cross-tenant rows, ${failures.length} errors, ${traffic.ms} ms`,
      );
      expect(traffic.requests).toBe(REQUESTS);
      expect(foreignRows, foreignRows.slice(0, 5).join('\n')).toEqual([]);
      expect(failures.length, failures.slice(0, 5).join('\n')).toBe(0);

      // What the database holds agrees with what the tenants were told.
      const stored = await asOwner((db) =>
        db.query<{ tenant_id: string; count: number; cents: string }>(
          `select tenant_id, count(*)::int as count, sum(price * 100)::bigint::text as cents
           from app_public.products where tenant_id = any($1::uuid[]) group by tenant_id`,
          [fixtures.map((f) => f.id)],
        ),
      );
      expect(Object.fromEntries(stored.rows.map((r) => [r.tenant_id, [r.count, Number(r.cents)]]))).toEqual(
        Object.fromEntries(traffic.tenants.map((t) => [t.fixture.id, [t.productIds.size, t.priceCents]])),
      );
    },
  );
});
