// Interleaved traffic from many tenants through the real HTTP API, each row of each
// response checked against the tenant that asked. Any per-request setting that outlived
// its request, on a pooled connection, shows up as a foreign row or a wrong total.
//
// Only types come from ./api.ts: importing it loads the server and with it @dataplan/pg,
// which the PgBouncer test must configure first. So the API handle and the token signer
// are passed in.
import { expect } from 'vitest';
import type { TestApi, TokenClaims } from './api.ts';
import type { Role, TenantFixture } from './fixtures.ts';

/** A POST to /graphql as the token's user; anything but a clean 200 throws. */
export async function graphql(
  api: TestApi,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<any> {
  const { status, body } = await api.post(
    { query, variables },
    token ? { authorization: `Bearer ${token}` } : {},
  );
  if (status !== 200 || body.errors)
    throw new Error(`HTTP ${status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

/** "1234.5" or "12.50" as whole cents, exactly. */
function cents(value: string): number {
  const [whole, fraction = ''] = value.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2));
}

const LIST = /* GraphQL */ `
  {
    products {
      totalCount
      nodes {
        rowId
        tenantId
        category {
          tenantId
          name
        }
      }
    }
    categories {
      nodes {
        rowId
        tenantId
      }
    }
  }
`;
const AGGREGATES = /* GraphQL */ `
  {
    products {
      aggregates {
        sum {
          price
        }
      }
      totalCount
    }
  }
`;
const CURRENT = /* GraphQL */ `
  {
    currentTenant {
      rowId
    }
    currentUser {
      rowId
    }
  }
`;
const CREATE = /* GraphQL */ `
  mutation ($name: String!, $price: BigFloat!, $categoryId: UUID) {
    createProduct(input: { name: $name, price: $price, categoryId: $categoryId }) {
      product {
        rowId
        tenantId
        price
        category {
          tenantId
        }
      }
    }
  }
`;

export type Kind = 'list' | 'aggregates' | 'create' | 'currentTenant';
const KINDS: Kind[] = [
  'list',
  'list',
  'list',
  'aggregates',
  'aggregates',
  'create',
  'create',
  'currentTenant',
];
const READERS: Role[] = ['viewer', 'member', 'admin', 'owner'];
const WRITERS: Role[] = ['member', 'admin', 'owner'];
/** createTenant's two products: 12.50 and 25.00. */
const FIXTURE_PRICE_CENTS = 1250 + 2500;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** What a tenant must see, kept in step with its own creates. */
export interface TenantExpectation {
  fixture: TenantFixture;
  productIds: Set<string>;
  priceCents: number;
}

export interface TrafficOptions {
  tokenFor: (claims: TokenClaims) => string;
  requests: number;
  /** Requests in flight at once; fewer than the tenants, so a worker always finds an idle one. */
  concurrency: number;
}

export interface TrafficResult {
  requests: number;
  counts: Record<Kind, number>;
  rowsChecked: number;
  /** One line per row that belonged to another tenant than the one that asked. */
  foreignRows: string[];
  /** One line per request that failed or whose answer was not exactly as expected. */
  failures: string[];
  /** Each tenant's products and price sum after the traffic. */
  tenants: TenantExpectation[];
  ms: number;
}

/**
 * Sends `requests` requests from `concurrency` workers, each time as a random tenant with
 * no request in flight, so consecutive requests on one server connection come from
 * different tenants as often as possible, while each tenant's expectation stays exact
 * (it never races itself).
 */
export async function driveTenantTraffic(
  api: TestApi,
  fixtures: TenantFixture[],
  { tokenFor, requests, concurrency }: TrafficOptions,
): Promise<TrafficResult> {
  if (concurrency >= fixtures.length)
    throw new Error(`${concurrency} in flight needs more than ${fixtures.length} tenants`);
  const tenants: TenantExpectation[] = fixtures.map((fixture) => ({
    fixture,
    productIds: new Set(fixture.productIds),
    priceCents: FIXTURE_PRICE_CENTS,
  }));
  const tokens = new Map(
    fixtures.map((fixture) => [
      fixture.id,
      Object.fromEntries(
        READERS.map((role) => [role, tokenFor({ userId: fixture.users[role], tenantId: fixture.id })]),
      ) as Record<Role, string>,
    ]),
  );
  const counts: Record<Kind, number> = { list: 0, aggregates: 0, create: 0, currentTenant: 0 };
  const foreignRows: string[] = [];
  const failures: string[] = [];
  let rowsChecked = 0;
  const own = (tenant: TenantExpectation, what: string, tenantId: unknown) => {
    rowsChecked += 1;
    if (tenantId !== tenant.fixture.id)
      foreignRows.push(`${what} of tenant ${String(tenantId)} in a response to ${tenant.fixture.id}`);
  };

  async function one(tenant: TenantExpectation, kind: Kind): Promise<void> {
    const { fixture } = tenant;
    const as = (role: Role) => tokens.get(fixture.id)![role];
    counts[kind] += 1;
    if (kind === 'list') {
      const data = await graphql(api, as(pick(READERS)), LIST);
      for (const product of data.products.nodes) {
        own(tenant, `product ${product.rowId}`, product.tenantId);
        if (product.category) own(tenant, `category of product ${product.rowId}`, product.category.tenantId);
      }
      for (const category of data.categories.nodes)
        own(tenant, `category ${category.rowId}`, category.tenantId);
      expect(new Set(data.products.nodes.map((p: any) => p.rowId))).toEqual(tenant.productIds);
      expect(data.products.totalCount).toBe(tenant.productIds.size);
      expect(data.categories.nodes.map((c: any) => c.rowId)).toEqual([fixture.categoryId]);
    } else if (kind === 'aggregates') {
      const data = await graphql(api, as(pick(READERS)), AGGREGATES);
      expect(data.products.totalCount).toBe(tenant.productIds.size);
      expect(cents(data.products.aggregates.sum.price)).toBe(tenant.priceCents);
    } else if (kind === 'create') {
      const priceCents = 1 + Math.floor(Math.random() * 99_999);
      const categoryId = Math.random() < 0.5 ? fixture.categoryId : null;
      const data = await graphql(api, as(pick(WRITERS)), CREATE, {
        name: `traffic ${counts.create}`,
        price: (priceCents / 100).toFixed(2),
        categoryId,
      });
      const product = data.createProduct.product;
      own(tenant, `created product ${product.rowId}`, product.tenantId);
      if (product.category)
        own(tenant, `category of created product ${product.rowId}`, product.category.tenantId);
      expect(cents(product.price)).toBe(priceCents);
      tenant.productIds.add(product.rowId);
      tenant.priceCents += priceCents;
    } else {
      const role = pick(READERS);
      const data = await graphql(api, as(role), CURRENT);
      own(tenant, 'currentTenant', data.currentTenant?.rowId);
      expect(data.currentUser?.rowId).toBe(fixture.users[role]);
    }
  }

  const idle = [...tenants];
  let issued = 0;
  async function worker(): Promise<void> {
    while (issued < requests) {
      issued += 1;
      const [tenant] = idle.splice(Math.floor(Math.random() * idle.length), 1);
      const kind = pick(KINDS);
      try {
        await one(tenant!, kind);
      } catch (error) {
        failures.push(`${kind} as ${tenant!.fixture.id}: ${(error as Error).message}`);
      } finally {
        idle.push(tenant!);
      }
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    requests: issued,
    counts,
    rowsChecked,
    foreignRows,
    failures,
    tenants,
    ms: Math.round(performance.now() - started),
  };
}
