// Page sizes: a connection asked for without `first` or `last` once answered every row
// (20,005 in one response took the API down), and groupedAggregates every group. Now a
// connection without a page size reads DEFAULT_PAGE_SIZE rows and groupedAggregates
// refuses more than MAX_GROUPS groups, both as a LIMIT in the SQL, with cursors,
// hasNextPage and totalCount as before.
import { getNamedType, type GraphQLObjectType } from 'grafast/graphql';
import { beforeAll, describe, expect, test } from 'vitest';
import { tokenFor, useApi, type TestApi } from './support/api.ts';
import { asOwner, bulkProducts } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

const pages = { defaultSize: 20, maxSize: 100, maxOffset: 1000, maxGroups: 10 };

// 250 products priced 1..250: 120 in "Big A", 100 in "Big B", 30 in none; with the
// fixture's Hammer (in Tools) and Gift card (in none), 252 in all.
let t: TenantFixture;
let auth: Record<string, string>;
let allIds: string[];
beforeAll(async () => {
  t = await createTenant('pages');
  allIds = await asOwner(async (db) => {
    await db.query(
      "insert into app_public.categories (tenant_id, name) values ($1, 'Big A'), ($1, 'Big B')",
      [t.id],
    );
    await db.query(
      `insert into app_public.products (tenant_id, category_id, name, price)
       select $1, case when n <= 120 then a.id when n <= 220 then b.id end, 'Product ' || n, n
       from generate_series(1, 250) n,
         (select id from app_public.categories where tenant_id = $1 and name = 'Big A') a,
         (select id from app_public.categories where tenant_id = $1 and name = 'Big B') b`,
      [t.id],
    );
    const { rows } = await db.query<{ id: string }>(
      'select id from app_public.products where tenant_id = $1 order by id',
      [t.id],
    );
    return rows.map((row) => row.id);
  });
  auth = { authorization: `Bearer ${tokenFor({ userId: t.users.viewer, tenantId: t.id })}` };
});

async function run(api: TestApi, query: string, variables?: Record<string, unknown>) {
  const { status, body } = await api.post({ query, variables }, auth);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  expect(status).toBe(200);
  return body.data;
}

const rowIds = (connection: { nodes: Array<{ rowId: string }> }) =>
  connection.nodes.map((node) => node.rowId);

describe('connections without a page size (production server, DEFAULT_PAGE_SIZE 20)', () => {
  const api = useApi({ pages });

  test('no first: the first 20 rows, while totalCount counts all 252 and hasNextPage says there are more', async () => {
    const data = await run(api, '{ products { totalCount pageInfo { hasNextPage } nodes { rowId } } }');
    expect(allIds).toHaveLength(252);
    expect(rowIds(data.products)).toEqual(allIds.slice(0, 20));
    expect(data.products.totalCount).toBe(252);
    expect(data.products.pageInfo.hasNextPage).toBe(true);
  });

  test('first: null is no way around it, literally or through a variable that is null or left out', async () => {
    const literal = await run(api, '{ products(first: null) { nodes { rowId } } }');
    const variable = 'query ($n: Int) { products(first: $n) { nodes { rowId } } }';
    const nullVariable = await run(api, variable, { n: null });
    const missingVariable = await run(api, variable, {});
    for (const data of [literal, nullVariable, missingVariable])
      expect(rowIds(data.products)).toEqual(allIds.slice(0, 20));
  });

  test('first given is honoured: first: 50 reads 50, through a variable too', async () => {
    const literal = await run(api, '{ products(first: 50) { nodes { rowId } } }');
    const variable = await run(api, 'query ($n: Int) { products(first: $n) { nodes { rowId } } }', { n: 50 });
    expect(rowIds(literal.products)).toEqual(allIds.slice(0, 50));
    expect(rowIds(variable.products)).toEqual(allIds.slice(0, 50));
  });

  test('paging on with `after` alone walks every row once, 20 at a time, and hasNextPage ends it', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const data = await run(
        api,
        'query ($after: Cursor) { products(after: $after) { pageInfo { hasNextPage endCursor } nodes { rowId } } }',
        { after },
      );
      seen.push(...rowIds(data.products));
      sizes.push(data.products.nodes.length);
      if (!data.products.pageInfo.hasNextPage) break;
      after = data.products.pageInfo.endCursor;
    }
    expect(sizes).toEqual([...Array(12).fill(20), 12]);
    expect(seen).toEqual(allIds);
  });

  test('offset without first: the 20 rows after the offset', async () => {
    const data = await run(api, '{ products(offset: 230) { nodes { rowId } } }');
    expect(rowIds(data.products)).toEqual(allIds.slice(230, 250));
  });

  test('last: 5 alone still means the last 5 of the ordering, not a default first', async () => {
    const data = await run(
      api,
      '{ last: products(last: 5) { pageInfo { hasPreviousPage } nodes { rowId } } reversed: products(orderBy: PRIMARY_KEY_DESC, first: 5) { nodes { rowId } } }',
    );
    expect(rowIds(data.last)).toEqual(rowIds(data.reversed).reverse());
    expect(rowIds(data.last)).toEqual(allIds.slice(-5));
    expect(data.last.pageInfo.hasPreviousPage).toBe(true);
  });

  test('before alone: the 20 rows just before the cursor, not every row before it', async () => {
    const head = await run(api, '{ products(first: 100) { edges { cursor } } }');
    const cursor = head.products.edges[99].cursor;
    const data = await run(
      api,
      'query ($before: Cursor) { products(before: $before) { pageInfo { hasPreviousPage } nodes { rowId } } }',
      { before: cursor },
    );
    expect(rowIds(data.products)).toEqual(allIds.slice(79, 99));
    expect(data.products.pageInfo.hasPreviousPage).toBe(true);
  });

  test('nested connections are capped per parent: each category lists at most 20 products, and counts them all', async () => {
    const data = await run(
      api,
      '{ categories(orderBy: NAME_ASC) { nodes { name products { totalCount nodes { rowId } } } } }',
    );
    const summary = data.categories.nodes.map(
      (category: { name: string; products: { totalCount: number; nodes: unknown[] } }) => [
        category.name,
        category.products.totalCount,
        category.products.nodes.length,
      ],
    );
    expect(summary).toEqual([
      ['Big A', 120, 20],
      ['Big B', 100, 20],
      ['Tools', 1, 1],
    ]);
  });

  test('GraphiQL documents the default and the maxima on first, last and offset', () => {
    const query = api.server.schema.getQueryType()!;
    const args = Object.fromEntries(
      query.getFields().products!.args.map((arg) => [arg.name, arg.description ?? '']),
    );
    expect(args.first).toMatch(/at most 100\b/);
    expect(args.first).toMatch(/reads 20\b/);
    expect(args.last).toMatch(/at most 100\b/);
    expect(args.offset).toMatch(/at most 1000\b/);
    const connection = getNamedType(query.getFields().products!.type) as GraphQLObjectType;
    expect(connection.getFields().groupedAggregates!.description).toMatch(/At most 10 groups/);
  });
});

describe('groupedAggregates (MAX_GROUPS 10)', () => {
  const api = useApi({ pages });

  test('grouping into more than MAX_GROUPS groups is refused with TOO_MANY_GROUPS, not silently truncated', async () => {
    const { status, body } = await api.post(
      { query: '{ products { totalCount groupedAggregates(groupBy: [NAME]) { keys } } }' },
      auth,
    );
    expect(status).toBe(200);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({
      path: ['products', 'groupedAggregates'],
      extensions: { code: 'TOO_MANY_GROUPS' },
    });
    expect(body.errors[0].message).toMatch(/at most 10\b/);
    expect(body.errors[0].message).toMatch(/filter/);
    expect(body.data.products).toEqual({ totalCount: 252, groupedAggregates: null });
  });

  test('exactly MAX_GROUPS groups are answered in full; one more is refused', async () => {
    const query =
      'query ($max: BigFloat!) { products(filter: { price: { lessThanOrEqualTo: $max } }) { groupedAggregates(groupBy: [PRICE]) { keys } } }';
    const ten = await run(api, query, { max: '10' });
    expect(
      ten.products.groupedAggregates
        .map((group: { keys: string[] }) => Number(group.keys[0]))
        .sort((x: number, y: number) => x - y),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const eleven = await api.post({ query, variables: { max: '11' } }, auth);
    expect(eleven.body.errors?.[0]?.extensions?.code).toBe('TOO_MANY_GROUPS');
  });

  test('under the limit, every group comes back with the right count and sum', async () => {
    const data = await run(
      api,
      '{ products { groupedAggregates(groupBy: [CATEGORY_ID]) { keys distinctCount { rowId } sum { price } } } }',
    );
    const expected = await asOwner(async (db) => {
      const { rows } = await db.query<{ category_id: string | null; count: string; sum: string }>(
        'select category_id, count(*)::text as count, sum(price)::text as sum from app_public.products where tenant_id = $1 group by category_id',
        [t.id],
      );
      return rows.map((row) => [row.category_id, row.count, row.sum]);
    });
    const actual = data.products.groupedAggregates.map(
      (group: { keys: [string | null]; distinctCount: { rowId: string }; sum: { price: string } }) => [
        group.keys[0],
        group.distinctCount.rowId,
        group.sum.price,
      ],
    );
    expect(expected).toHaveLength(4);
    expect(new Set(actual.map(String))).toEqual(new Set(expected.map(String)));
  });
});

describe('the LIMIT is in the SQL (explain on a development server)', () => {
  const api = useApi({ pages, development: true });
  let big: TenantFixture;
  let bigAuth: Record<string, string>;
  beforeAll(async () => {
    big = await createTenant('pages-big');
    await bulkProducts(big.id, 20_005, 'Bulk ');
    bigAuth = {
      authorization: `Bearer ${tokenFor({ userId: big.users.viewer, tenantId: big.id })}`,
      'x-graphql-explain': 'sql',
    };
  });

  async function explained(query: string) {
    const { status, body } = await api.post({ query }, bigAuth);
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(status).toBe(200);
    const sql: string[] = body.extensions.explain.operations
      .filter((op: { type: string }) => op.type === 'sql')
      .map((op: { query: string }) => op.query);
    return { data: body.data, sql };
  }

  test('the 20,005-product table of the incident: 20 rows in the response, and the SQL asks for only 21', async () => {
    const { data, sql } = await explained(
      '{ products { totalCount pageInfo { hasNextPage } nodes { name } } }',
    );
    expect(data.products.nodes).toHaveLength(20);
    expect(data.products.totalCount).toBe(20_007);
    const rows = sql.filter((text) => text.includes('"name"'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/\blimit 21\s*;?\s*$/);
  });

  test('nested connections get their LIMIT inside the per-parent subquery', async () => {
    const { sql } = await explained('{ categories { nodes { products { nodes { name } } } } }');
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/"name"[\s\S]*\blimit 20\)/);
  });

  test('a query for only totalCount reads no rows: the default page adds no query', async () => {
    const { data, sql } = await explained('{ products { totalCount } }');
    expect(data.products.totalCount).toBe(20_007);
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/count\(\*\)/);
    expect(sql[0]).not.toMatch(/\blimit\b/);
  });

  test('groupedAggregates asks PostgreSQL for at most MAX_GROUPS + 1 groups', async () => {
    const { body } = await api.post(
      { query: '{ products { groupedAggregates(groupBy: [NAME]) { keys } } }' },
      bigAuth,
    );
    expect(body.errors[0].extensions.code).toBe('TOO_MANY_GROUPS');
    const sql: string[] = body.extensions.explain.operations
      .filter((op: { type: string }) => op.type === 'sql')
      .map((op: { query: string }) => op.query);
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/group by[\s\S]*\blimit 11\s*;?\s*$/);
  });
});
