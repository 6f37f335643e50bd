// Isolation under load: many tenants at once through the real HTTP API and a small
// connection pool, so every server connection serves one tenant after another and any
// setting that outlived its request would show up as a foreign row or a wrong total.
// Every row of every response is checked against the tenant that asked.
import { describe, expect, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type Role, type TenantFixture } from './support/fixtures.ts';

const TENANTS = 50;
const REQUESTS = 3_000;
const IN_FLIGHT = 32;
const POOL_SIZE = 4;

const api = useApi({ poolSize: POOL_SIZE });

// What each tenant must see, kept in step with its mutations. A tenant has at most one
// request in flight (the traffic interleaves across tenants, never within one), so the
// expectation is exact at any moment rather than a range.
interface TenantState {
  fixture: TenantFixture;
  tokens: Record<Role, string>;
  productIds: Set<string>;
  priceCents: number;
}

const LIST = /* GraphQL */ `{
  products { totalCount nodes { rowId tenantId category { tenantId name } } }
  categories { nodes { rowId tenantId } }
}`;
const AGGREGATES = /* GraphQL */ `{ products { aggregates { sum { price } } totalCount } }`;
const CURRENT = /* GraphQL */ `{ currentTenant { rowId } currentUser { rowId } }`;
const CREATE = /* GraphQL */ `mutation ($name: String!, $price: BigFloat!, $categoryId: UUID) {
  createProduct(input: { name: $name, price: $price, categoryId: $categoryId }) {
    product { rowId tenantId price category { tenantId } }
  }
}`;

type Kind = 'list' | 'aggregates' | 'create' | 'currentTenant';
const KINDS: Kind[] = ['list', 'list', 'list', 'aggregates', 'aggregates', 'create', 'create', 'currentTenant'];
const READERS: Role[] = ['viewer', 'member', 'admin', 'owner'];
const WRITERS: Role[] = ['member', 'admin', 'owner'];

const pick = <T,>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** "1234.5" or "12.50" as whole cents, exactly. */
function cents(value: string): number {
  const [whole, fraction = ''] = value.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2));
}

async function graphql(token: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const response = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body: any = await response.json();
  if (response.status !== 200 || body.errors) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

describe(`${TENANTS} tenants, ${REQUESTS} interleaved requests, ${IN_FLIGHT} in flight over ${POOL_SIZE} connections`, () => {
  test('every row, total and created product belongs to the tenant that asked', { timeout: 60_000 }, async () => {
    const fixtures: TenantFixture[] = await Promise.all(Array.from({ length: TENANTS }, (_, i) => createTenant(`load${i}`)));
    const states: TenantState[] = fixtures.map((fixture) => ({
      fixture,
      tokens: Object.fromEntries(READERS.map((role) => [role, tokenFor({ userId: fixture.users[role], tenantId: fixture.id })])) as Record<Role, string>,
      productIds: new Set(fixture.productIds),
      priceCents: 1250 + 2500,
    }));

    const foreign: string[] = [];
    const failures: string[] = [];
    const counts = { list: 0, aggregates: 0, create: 0, currentTenant: 0, rows: 0 };
    const own = (state: TenantState, what: string, tenantId: unknown) => {
      counts.rows += 1;
      if (tenantId !== state.fixture.id) foreign.push(`${what} of tenant ${String(tenantId)} in a response to ${state.fixture.id}`);
    };

    async function one(state: TenantState, kind: Kind): Promise<void> {
      const { fixture } = state;
      counts[kind] += 1;
      if (kind === 'list') {
        const data = await graphql(state.tokens[pick(READERS)], LIST);
        for (const product of data.products.nodes) {
          own(state, `product ${product.rowId}`, product.tenantId);
          if (product.category) own(state, `category of product ${product.rowId}`, product.category.tenantId);
        }
        for (const category of data.categories.nodes) own(state, `category ${category.rowId}`, category.tenantId);
        expect(new Set(data.products.nodes.map((p: any) => p.rowId))).toEqual(state.productIds);
        expect(data.products.totalCount).toBe(state.productIds.size);
        expect(data.categories.nodes.map((c: any) => c.rowId)).toEqual([fixture.categoryId]);
      } else if (kind === 'aggregates') {
        const data = await graphql(state.tokens[pick(READERS)], AGGREGATES);
        expect(data.products.totalCount).toBe(state.productIds.size);
        expect(cents(data.products.aggregates.sum.price)).toBe(state.priceCents);
      } else if (kind === 'create') {
        const priceCents = 1 + Math.floor(Math.random() * 99_999);
        const categoryId = Math.random() < 0.5 ? fixture.categoryId : null;
        const data = await graphql(state.tokens[pick(WRITERS)], CREATE, { name: `load ${counts.create}`, price: (priceCents / 100).toFixed(2), categoryId });
        const product = data.createProduct.product;
        own(state, `created product ${product.rowId}`, product.tenantId);
        if (product.category) own(state, `category of created product ${product.rowId}`, product.category.tenantId);
        expect(cents(product.price)).toBe(priceCents);
        state.productIds.add(product.rowId);
        state.priceCents += priceCents;
      } else {
        const role = pick(READERS);
        const data = await graphql(state.tokens[role], CURRENT);
        own(state, 'currentTenant', data.currentTenant?.rowId);
        expect(data.currentUser?.rowId).toBe(fixture.users[role]);
      }
    }

    // Workers take a random idle tenant each time, so consecutive requests on one
    // server connection come from different tenants as often as possible.
    const idle = [...states];
    let issued = 0;
    async function worker(): Promise<void> {
      while (issued < REQUESTS) {
        issued += 1;
        const [state] = idle.splice(Math.floor(Math.random() * idle.length), 1);
        const kind = pick(KINDS);
        try {
          await one(state!, kind);
        } catch (error) {
          failures.push(`${kind} as ${state!.fixture.id}: ${(error as Error).message}`);
        } finally {
          idle.push(state!);
        }
      }
    }
    expect(IN_FLIGHT).toBeLessThan(TENANTS);
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const elapsed = Math.round(performance.now() - started);

    const requests = counts.list + counts.aggregates + counts.create + counts.currentTenant;
    console.log(
      `concurrency-isolation: ${requests} requests (${counts.list} lists, ${counts.aggregates} aggregates, ${counts.create} creates, ` +
        `${counts.currentTenant} currentTenant) from ${TENANTS} tenants, ${IN_FLIGHT} in flight over ${POOL_SIZE} connections, ` +
        `${counts.rows} rows checked, ${foreign.length} cross-tenant rows, ${failures.length} errors, ${elapsed} ms`,
    );
    expect(foreign, foreign.slice(0, 5).join('\n')).toEqual([]);
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
      Object.fromEntries(states.map((s) => [s.fixture.id, [s.productIds.size, s.priceCents]])),
    );
  });
});
