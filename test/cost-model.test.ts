// The cost model: what an operation may cost before it runs (requestedQueryCost) against
// what it really returned (actualQueryCost), reported on every response. When every page
// is full the two are equal, and an estimate is never below what came back; page sizes
// and offsets over their maxima are refused before anything runs, naming the maximum.
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { PRICED_BY_ESTIMATE, tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

// Small pages, so that a tenant of a few rows fills every one of them.
const PAGES = { defaultSize: 3, maxSize: 20, maxOffset: 20, maxGroups: 2 };
// The estimate's figures; database time is priced by test/work-pricing.test.ts.
const api = useApi({ pages: PAGES, limits: { maxQueryCost: 400 }, work: PRICED_BY_ESTIMATE });

let full: TenantFixture;
let sparse: TenantFixture;
const as = (tenant: TenantFixture) => ({
  authorization: `Bearer ${tokenFor({ userId: tenant.users.member, tenantId: tenant.id })}`,
});

beforeAll(async () => {
  [full, sparse] = await Promise.all([createTenant('cost-full'), createTenant('cost-sparse')]);
  // Two categories (maxGroups), each with more products than a page, all categorised.
  await asOwner(async (db) => {
    await db.query("insert into app_public.categories (tenant_id, id, name) values ($1, $2, 'Toys')", [
      full.id,
      randomUUID(),
    ]);
    await db.query('update app_public.products set category_id = $2 where tenant_id = $1', [
      full.id,
      full.categoryId,
    ]);
    await db.query(
      `insert into app_public.products (tenant_id, category_id, name, price)
       select $1, c.id, c.name || ' ' || n, n from app_public.categories c, generate_series(1, 12) n where c.tenant_id = $1`,
      [full.id],
    );
  });
});

async function costOf(tenant: TenantFixture, query: string, variables: Record<string, unknown> = {}) {
  const { status, body } = await api.post({ query, variables }, as(tenant));
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  expect(status).toBe(200);
  return body.extensions.cost as {
    requestedQueryCost: number;
    actualQueryCost: number;
    throttleStatus: Record<string, number>;
  };
}

/** Every ```graphql block of the README and docs/: the queries people copy first. */
async function documentedQueries(): Promise<string[]> {
  const docs = new URL('../docs/', import.meta.url);
  const pages = [
    new URL('../README.md', import.meta.url),
    ...(await readdir(docs)).filter((name) => name.endsWith('.md')).map((name) => new URL(name, docs)),
  ];
  const texts = await Promise.all(pages.map((page) => readFile(page, 'utf8')));
  return texts.flatMap((text) => [...text.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!));
}

const EXAMPLES: Record<string, string> = {
  'aliases and a fragment': `
    query Aliased { cheap: products(first: 2, orderBy: PRICE_ASC) { ...Rows } dear: products(last: 2, orderBy: PRICE_ASC) { ...Rows } }
    fragment Rows on ProductConnection { nodes { name category { name } } }`,
  'nested connections multiply':
    '{ categories(first: 2) { nodes { name products { nodes { name price } } } } }',
  'an offset': '{ products(first: 3, offset: 4, orderBy: PRICE_DESC) { nodes { name } } }',
  'edges, cursors and pageInfo':
    '{ products(first: 4, orderBy: NAME_ASC) { edges { cursor node { name } } pageInfo { hasNextPage } } }',
};

describe('estimates against what came back', () => {
  test('every README and docs/ query: requested equals actual when its pages are full', async () => {
    const queries = await documentedQueries();
    expect(queries.length).toBeGreaterThan(1);
    for (const query of queries) {
      const cost = await costOf(full, query);
      expect(cost.actualQueryCost, query).toBe(cost.requestedQueryCost);
    }
  });

  test('every README and docs/ query: requested is never below actual, and a sparse tenant pays for what it got', async () => {
    for (const query of await documentedQueries()) {
      const cost = await costOf(sparse, query);
      expect(cost.actualQueryCost, query).toBeLessThan(cost.requestedQueryCost);
    }
  });

  test.each(Object.entries(EXAMPLES))('%s: requested equals actual on full pages', async (_name, query) => {
    const cost = await costOf(full, query);
    expect(cost.actualQueryCost).toBe(cost.requestedQueryCost);
  });

  test('the figures follow the documented table', async () => {
    // 10 per operation; the connection 1; 3 nodes (the default page) of 1 each, each with its category (1).
    expect((await costOf(full, '{ products { nodes { name category { name } } } }')).requestedQueryCost).toBe(
      10 + 1 + 3 * (1 + 1),
    );
    // first wins over the default; scalars are free, totalCount costs the rows it counts
    // (4 points per 1,000 of the tenant's 26 products, rounded up).
    expect(
      (await costOf(full, '{ products(first: 5) { totalCount nodes { name price } } }')).requestedQueryCost,
    ).toBe(10 + 1 + 5 + 1);
    // An offset costs the rows it skips: the database reads them too.
    expect(
      (await costOf(full, '{ products(first: 2, offset: 5) { nodes { name } } }')).requestedQueryCost,
    ).toBe(10 + 1 + 2 + 5);
    // groupedAggregates at its maximum of groups, each with its sum object, and the rows it
    // groups (4 + 10 + 1 points per 1,000 products, rounded up).
    expect(
      (
        await costOf(
          full,
          '{ products { groupedAggregates(groupBy: [CATEGORY_ID]) { keys sum { price } } } }',
        )
      ).requestedQueryCost,
    ).toBe(10 + 1 + 2 * (1 + 1) + 1);
    // A mutation adds 10 to the operation's 10, then its payload.
    const created = await costOf(
      full,
      'mutation { createProduct(input: { name: "Costed", price: "1" }) { product { name } } }',
    );
    expect(created).toMatchObject({ requestedQueryCost: 10 + 10 + 1 + 1, actualQueryCost: 22 });
  });

  test('a node looked up by id through the Node interface costs what its type selects', async () => {
    const { body } = await api.post(
      { query: '{ products(first: 1, filter: { categoryId: { isNull: false } }) { nodes { id } } }' },
      as(full),
    );
    const id = body.data.products.nodes[0].id;
    const cost = await costOf(
      full,
      'query ($id: ID!) { node(id: $id) { ... on Product { name category { name } } } }',
      { id },
    );
    expect(cost).toMatchObject({ requestedQueryCost: 10 + 1 + 1, actualQueryCost: 12 });
  });

  test('@skip and @include count as they execute', async () => {
    const query =
      'query ($more: Boolean!) { products(first: 4) { nodes { name category @include(if: $more) { name } } } }';
    expect((await costOf(full, query, { more: false })).requestedQueryCost).toBe(10 + 1 + 4);
    expect((await costOf(full, query, { more: true })).requestedQueryCost).toBe(10 + 1 + 4 * 2);
  });

  test("every response reports the caller's throttle status", async () => {
    const cost = await costOf(full, '{ currentTenant { name } }');
    expect(cost.throttleStatus).toEqual({
      maximumAvailable: 10_000,
      currentlyAvailable: expect.any(Number),
      restoreRate: 500,
    });
    expect(cost.throttleStatus.currentlyAvailable).toBeLessThanOrEqual(10_000 - 11);
  });
});

describe('refused before anything runs', () => {
  test('first or last over the maximum page: 400 PAGE_SIZE_TOO_LARGE naming the maximum, literal or variable', async () => {
    const literal = await api.post({ query: '{ products(first: 21) { nodes { name } } }' }, as(full));
    expect(literal.status).toBe(400);
    expect(literal.body.errors[0]).toMatchObject({ extensions: { code: 'PAGE_SIZE_TOO_LARGE' } });
    expect(literal.body.errors[0].message).toMatch(/largest page of 20 rows \(MAX_PAGE_SIZE\)/);
    const variable = await api.post(
      {
        query: 'query ($n: Int) { categories { nodes { products(last: $n) { nodes { name } } } } }',
        variables: { n: 500 },
      },
      as(full),
    );
    expect([variable.status, variable.body.errors[0].extensions.code]).toEqual([400, 'PAGE_SIZE_TOO_LARGE']);
  });

  test('an offset over the maximum: 400 OFFSET_TOO_LARGE', async () => {
    const { status, body } = await api.post(
      { query: '{ products(first: 1, offset: 21) { nodes { name } } }' },
      as(full),
    );
    expect([status, body.errors[0].extensions.code]).toEqual([400, 'OFFSET_TOO_LARGE']);
    expect(body.errors[0].message).toMatch(/limit of 20 \(MAX_OFFSET\)/);
  });

  test('a requested cost over MAX_QUERY_COST: 400 QUERY_TOO_COMPLEX with the cost reported, and nothing runs', async () => {
    const query = `mutation { ${Array.from({ length: 15 }, (_, i) => `p${i}: createProduct(input: { name: "refused ${i}", price: "1" }) { product { category { products(first: 10) { nodes { category { name } } } } } }`).join(' ')} }`;
    const { status, body } = await api.post({ query }, as(full));
    expect([status, body.errors[0].extensions.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
    expect(body.extensions.cost.requestedQueryCost).toBeGreaterThan(400);
    const { rows } = await asOwner((db) =>
      db.query(
        "select count(*)::int as n from app_public.products where tenant_id = $1 and name like 'refused %'",
        [full.id],
      ),
    );
    expect(rows[0].n).toBe(0);
  });
});
