// Router queries (src/plugins/tenant-routing.ts): a request acting in a verified tenant
// sends every select of a tenant table with `tenant_id = $n` (a bound parameter), which is
// what lets Citus route it to one shard; a request whose tenant is only claimed gets no
// such condition and RLS alone decides, as before. Observed through grafast's explain
// (development's `X-GraphQL-Explain: sql`), on the request path itself.
import { describe, expect, test } from 'vitest';
import { CROSS_TENANT_TABLES } from '../src/plugins/tenant-routing.ts';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner, asUser } from './support/db.ts';
import { createTenant } from './support/fixtures.ts';

// `"tenant_id" = $3::uuid`: the column of the table's own alias, compared with a parameter.
const ROUTED = /\.tenant_id = \$\d+::uuid/g;

describe('the SQL of a request', () => {
  const api = useApi({ development: true });

  async function explained(query: string, headers: Record<string, string>) {
    const { body } = await api.post({ query }, { ...headers, 'x-graphql-explain': 'sql' });
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    const sql: string[] = body.extensions.explain.operations
      .filter((operation: { type: string }) => operation.type === 'sql')
      .map((operation: { query: string }) => operation.query);
    expect(sql.length).toBeGreaterThan(0);
    return { data: body.data, sql: sql.join('\n;\n') };
  }

  test('in a verified tenant: the list, a row by id, relations and aggregates all say tenant_id = $n', async () => {
    const [a, b] = await Promise.all([createTenant('routed-a'), createTenant('routed-b')]);
    const asA = { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: a.id })}` };

    const list = await explained('{ products { nodes { id rowId tenantId } } }', asA);
    expect(list.sql.match(ROUTED)).toHaveLength(1);
    expect(list.data.products.nodes.map((n: { tenantId: string }) => n.tenantId)).toEqual([a.id, a.id]);

    const nodeId = list.data.products.nodes[0].id;
    const byId = await explained(`{ productById(id: "${nodeId}") { rowId } }`, asA);
    expect(byId.sql).toMatch(ROUTED);
    expect(byId.data.productById.rowId).toBe(list.data.products.nodes[0].rowId);

    // Forward (product -> category) and backward (category -> products) relations: each
    // table the query reads carries the condition.
    const related = await explained(
      '{ products { nodes { category { name } } } categories { nodes { products { totalCount } } } }',
      asA,
    );
    expect(related.sql.match(ROUTED)!.length).toBeGreaterThanOrEqual(4);
    expect(related.data.categories.nodes).toEqual([{ products: { totalCount: 1 } }]);

    const aggregated = await explained(
      '{ products { aggregates { sum { price } } groupedAggregates(groupBy: [TENANT_ID]) { keys } } }',
      asA,
    );
    expect(aggregated.sql.match(ROUTED)!.length).toBeGreaterThanOrEqual(2);
    expect(aggregated.data.products.groupedAggregates).toEqual([{ keys: [a.id] }]);

    // An update by node id: @dataplan/pg writes it from the node id's key (tenant_id
    // leads it; explain does not show mutations' SQL); the select of the payload's
    // relation is routed.
    const updated = await explained(
      `mutation { updateProductById(input: { id: "${nodeId}", patch: { name: "Routed" } }) { product { name category { name } } } }`,
      asA,
    );
    expect(updated.sql).toMatch(ROUTED);
    expect(updated.data.updateProductById.product.name).toBe('Routed');

    // B's product by its node id, asked as A: the node id's tenant and the verified one
    // differ, so no row can match, as RLS already said.
    const asB = { authorization: `Bearer ${tokenFor({ userId: b.users.owner, tenantId: b.id })}` };
    const bNode = (await explained('{ products { nodes { id } } }', asB)).data.products.nodes[0].id;
    const crossed = await explained(`{ productById(id: "${bNode}") { rowId } }`, asA);
    expect(crossed.data.productById).toBeNull();
  });

  test("the list query as PostgreSQL plans it for the request: the tenant's value in the plan, one task on Citus", async () => {
    const a = await createTenant('routed-plan');
    const asA = { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: a.id })}` };
    const list = await explained('{ products { nodes { name price } } }', asA);
    expect(list.sql.match(ROUTED)).toHaveLength(1);
    const identity = { userId: a.users.owner, tenantId: a.id, verifiedTenantId: a.id };
    const explain = (sql: string) =>
      asUser(identity, async (db) =>
        (await db.query<{ 'QUERY PLAN': string }>(`explain (costs off) ${sql}`, [a.id])).rows
          .map((row) => row['QUERY PLAN'])
          .join('\n'),
      );
    const plan = await explain(list.sql);
    // The parameter's value reaches the planner (a custom plan), so the condition is a constant.
    if (process.env.TEST_CITUS_URL) {
      expect(plan).toMatch(/Task Count: 1\b/);
      // The same query with RLS alone (the condition made a no-op): every shard.
      const unrouted = await explain(list.sql.replace(/\w+\.tenant_id = (\$1::uuid)/, '$1 is not null'));
      expect(Number(/Task Count: (\d+)/.exec(unrouted)![1])).toBeGreaterThan(1);
    } else {
      expect(plan).toContain(`tenant_id = '${a.id}'::uuid`);
    }
  });

  test('a claimed but unverified tenant: no tenant condition, and still nothing of that tenant', async () => {
    const [a, b] = await Promise.all([createTenant('claimed-a'), createTenant('claimed-b')]);
    // A's member claims B, by token and by X-Tenant: no membership confirms it.
    const claims: Record<string, string>[] = [
      { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: b.id })}` },
      { authorization: `Bearer ${tokenFor({ userId: a.users.owner })}`, 'x-tenant': b.slug },
    ];
    for (const headers of claims) {
      const claimed = await explained(
        '{ products { totalCount nodes { rowId } } categories { nodes { products { totalCount } } } productsAgg: products { aggregates { sum { price } } } }',
        headers,
      );
      expect(claimed.sql).not.toMatch(ROUTED);
      expect(claimed.data.products).toEqual({ totalCount: 0, nodes: [] });
      expect(claimed.data.categories.nodes).toEqual([]);
      expect(claimed.data.productsAgg.aggregates.sum.price).toBe('0');
    }
  });

  test('memberships are not routed: a user still lists their own memberships in every tenant', async () => {
    const [a, b] = await Promise.all([createTenant('members-a'), createTenant('members-b')]);
    await asOwner((db) =>
      db.query("insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, 'viewer')", [
        b.id,
        a.users.owner,
      ]),
    );
    const asA = { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: a.id })}` };
    const mine = await explained(
      '{ memberships(condition: { userId: "' + a.users.owner + '" }) { nodes { tenantId } } }',
      asA,
    );
    expect(mine.sql).not.toMatch(ROUTED);
    expect(new Set(mine.data.memberships.nodes.map((n: { tenantId: string }) => n.tenantId))).toEqual(
      new Set([a.id, b.id]),
    );
  });
});

describe('which tenant tables are routed', () => {
  test('exactly the tenant tables whose select policies let rows of other tenants through are left out', async () => {
    // A select policy that also lets through rows of other tenants says `OR` beside its
    // tenant comparison (memberships: `... or user_id = current_user_id()`).
    const rows = await asOwner(
      async (db) =>
        (
          await db.query<{ table: string }>(`
          select distinct format('%I.%I', n.nspname, c.relname) as table
          from pg_policy p
          join pg_class c on c.oid = p.polrelid
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
          where n.nspname = 'app_public' and p.polcmd in ('r', '*') and p.polpermissive
            and pg_get_expr(p.polqual, p.polrelid) ~* '\\mOR\\M'
          order by 1`)
        ).rows,
    );
    expect(rows.map((row) => row.table)).toEqual([...CROSS_TENANT_TABLES].sort());
  });
});
