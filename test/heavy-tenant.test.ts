// The request that used to crash the API: a viewer's 15 aliases of a connection without
// `first`, over a tenant of 20,005 products, under the production heap cap. Now every
// connection returns one page, the heaviest operation a viewer may request is bounded
// by MAX_QUERY_COST, and the process must survive many of them at once, from several
// tenants, answering each with data, a clean refusal or a throttle, never a crash.
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { productionNodeFlags } from '../support/api-process.ts';
import { tokenFor } from './support/api.ts';
import { startApiProcess } from './support/api-process.ts';
import { bulkProducts } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

const ROWS = 20_005;
// npm start's flags (package.json; the Dockerfile's CMD has the same, test/runtime-flags.test.ts checks).
const NODE_FLAGS = productionNodeFlags();

const aliases = (selection: string) => Array.from({ length: 15 }, (_, i) => `a${i}: ${selection}`).join(' ');
// What crashed the API before: every row, 15 times.
const UNBOUNDED = `{ ${aliases('products { nodes { id name price createdAt updatedAt } }')} }`;
// The heaviest a viewer may request now: 10 + 15 × (1 + 332) = 5,005 points is just over
// MAX_QUERY_COST, so 331 rows an alias.
const HEAVIEST = `{ ${aliases('products(first: 331) { nodes { id name price createdAt updatedAt } }')} }`;
const GROUPS = '{ products { groupedAggregates(groupBy: [NAME]) { keys sum { price } } } }';

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

test(
  `the API survives many of the heaviest requests at once under ${NODE_FLAGS.join(' ')}`,
  { timeout: 120_000 },
  async () => {
    const tenants: TenantFixture[] = await Promise.all(
      Array.from({ length: 4 }, (_, i) => createTenant(`heavy-${i}`)),
    );
    for (const tenant of tenants) await bulkProducts(tenant.id, ROWS - 2);
    const api = await startApiProcess({
      nodeFlags: NODE_FLAGS,
      env: {
        // This test sends its own operations, not the web app's trusted documents.
        TRUSTED_DOCUMENTS: 'off',
        // Budgets would throttle most of the waves below; this is about memory, so every
        // heavy request that the bulkheads let through at once should really run.
        BUDGET_POINTS: '1000000',
      },
    });
    try {
      const send = (tenant: TenantFixture, query: string) =>
        fetch(`${api.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
          },
          body: JSON.stringify({ query }),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));

      // Three waves, each 4 tenants × 12 requests at once: the crash, the heaviest allowed, groups.
      const outcomes = new Map<string, number>();
      for (const query of [UNBOUNDED, HEAVIEST, GROUPS]) {
        const answers = await Promise.all(
          tenants.flatMap((tenant) => Array.from({ length: 12 }, () => send(tenant, query))),
        );
        for (const { status, body } of answers) {
          const code = body.errors?.[0]?.extensions?.code ?? 'data';
          outcomes.set(`${status} ${code}`, (outcomes.get(`${status} ${code}`) ?? 0) + 1);
          if (query === GROUPS && status === 200) expect(code).toBe('TOO_MANY_GROUPS');
          if (status === 200) {
            // Data comes in pages: the default page without `first`, at most what was asked with it.
            const pages = Object.values(body.data.products ? { a: body.data.products } : body.data) as Array<{
              nodes?: unknown[];
            }>;
            for (const page of pages) {
              expect(page, JSON.stringify(body.errors)).not.toBeNull();
              if (page.nodes) expect(page.nodes.length).toBeLessThanOrEqual(331);
            }
            if (query === UNBOUNDED) expect(body.data.a0.nodes).toHaveLength(100);
          } else {
            // 503 DATABASE_BUSY: a tenant's statements waited too long for its share of the
            // connections (TENANT_CONNECTIONS), or the pool, on a loaded machine: a clean refusal with Retry-After.
            expect([400, 429, 503], JSON.stringify(body.errors)).toContain(status);
            expect(['RATE_LIMITED', 'CONCURRENCY_LIMITED', 'TOO_MANY_GROUPS', 'DATABASE_BUSY']).toContain(
              code,
            );
          }
        }
      }
      const rss = await peakRssMb(api.child.pid!);
      console.log(
        `heavy tenants: ${[...outcomes].map(([outcome, n]) => `${n} × ${outcome}`).join(', ')}; API peak RSS ${rss.toFixed(0)} MB`,
      );
      expect(outcomes.get('200 data')).toBeGreaterThan(0);
      expect(api.child.exitCode).toBeNull();
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    } finally {
      api.kill();
    }
  },
);
