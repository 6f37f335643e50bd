// The tenants requests are made for: read from bench.tenant_index, each with its
// member's token and its sample product's global id.
import pg from 'pg';
import { readEnv } from '../../src/config.ts';
import { mintDevToken } from '../../src/dev/mint-token.ts';
import type { BenchTenant } from './scenarios.ts';

export async function readTenants(ownerUrl: string): Promise<Omit<BenchTenant, 'token' | 'productNodeId'>[]> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      n: number;
      tenant_id: string;
      user_id: string;
      product_id: string;
      category_id: string;
    }>('select n, tenant_id, user_id, product_id, category_id from bench.tenant_index order by n');
    return rows.map((row) => ({
      n: row.n,
      tenantId: row.tenant_id,
      userId: row.user_id,
      productId: row.product_id,
      categoryId: row.category_id,
    }));
  } finally {
    await client.end();
  }
}

/** The API process's tenant claim (JWT_TENANT_CLAIM's default). */
const TENANT_CLAIM = readEnv({}).JWT_TENANT_CLAIM;

/** A member's token, minted as `npm run token` mints it, with the run's secret. */
export function signToken(
  secret: string,
  tenant: { userId: string; tenantId: string },
  lifetimeSeconds: number,
): string {
  return mintDevToken(secret, tenant, { tenantClaim: TENANT_CLAIM, expiresIn: lifetimeSeconds });
}

/**
 * Learns how the API encodes a product's global id from one example (it is base64 of a
 * JSON array naming the type and the primary key) and returns an encoder for any product.
 */
export function nodeIdEncoder(example: {
  id: string;
  tenantId: string;
  rowId: string;
}): (tenantId: string, rowId: string) => string {
  const decoded = JSON.parse(Buffer.from(example.id, 'base64').toString('utf8')) as unknown[];
  const tenantIndex = decoded.indexOf(example.tenantId);
  const rowIndex = decoded.indexOf(example.rowId);
  if (tenantIndex < 0 || rowIndex < 0)
    throw new Error(`Cannot make out the global id format from ${JSON.stringify(decoded)}`);
  return (tenantId, rowId) => {
    const parts = [...decoded];
    parts[tenantIndex] = tenantId;
    parts[rowIndex] = rowId;
    return Buffer.from(JSON.stringify(parts)).toString('base64');
  };
}

export async function graphql(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/** The tenants of bench.tenant_index, each with its member's token and its product's global id. */
export async function benchTenants(
  ownerUrl: string,
  secret: string,
  encode: (tenantId: string, rowId: string) => string,
): Promise<BenchTenant[]> {
  const rows = await readTenants(ownerUrl);
  // Valid for the whole run; one per tenant, each verified by the API on every request.
  return rows.map((row) => ({
    ...row,
    token: signToken(secret, row, 3 * 3600),
    productNodeId: encode(row.tenantId, row.productId),
  }));
}

/** A section's own tenant (lib/noisy-neighbour.ts's, lib/abuse-tenant.ts's). */
export interface OwnTenant {
  tenantId: string;
  userId: string;
  products: number;
  productsAdded: number;
  /** How long making or topping it up took. */
  seconds: number;
}

export interface OwnTenantShape {
  slug: string;
  /** The tenant's name, and its member's display name. */
  name: string;
  email: string;
  categories: number;
  products: number;
  /** Inserts the tenant's products numbered `from` to `to`, in the open transaction. */
  insertProducts(client: pg.Client, tenantId: string, from: number, to: number): Promise<void>;
}

/**
 * A tenant of a section's own (not in bench.tenant_index, so no other section picks it)
 * with a member, its categories and `products` products: made once in SQL as the owner,
 * as bench:data loads, and topped up when a run asks for more.
 */
export async function ensureOwnTenant(ownerUrl: string, shape: OwnTenantShape): Promise<OwnTenant> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    const { rows: tenants } = await client.query<{ id: string }>(
      `with made as (
         insert into app_public.tenants (slug, name) values ($1, $2)
         on conflict (slug) do nothing returning id
       )
       select id from made union all select id from app_public.tenants where slug = $1`,
      [shape.slug, shape.name],
    );
    const tenantId = tenants[0]!.id;
    let userId = (
      await client.query<{ user_id: string }>(
        `select user_id from app_public.memberships where tenant_id = $1 and role = 'member' limit 1`,
        [tenantId],
      )
    ).rows[0]?.user_id;
    if (!userId) {
      userId = (
        await client.query<{ id: string }>(
          `insert into app_public.users (id, email, display_name) values (gen_random_uuid(), $1, $2) returning id`,
          [shape.email, shape.name],
        )
      ).rows[0]!.id;
      await client.query(
        `insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, 'member')`,
        [tenantId, userId],
      );
      await client.query(
        `insert into app_public.categories (tenant_id, name)
         select $1, 'Category ' || c from generate_series(1, $2::int) as c`,
        [tenantId, shape.categories],
      );
    }
    const { rows: counts } = await client.query<{ count: number }>(
      'select count(*)::int as count from app_public.products where tenant_id = $1',
      [tenantId],
    );
    const existing = counts[0]!.count;
    const productsAdded = Math.max(0, shape.products - existing);
    if (productsAdded > 0) await shape.insertProducts(client, tenantId, existing + 1, shape.products);
    await client.query('commit');
    if (productsAdded > 0) await client.query('vacuum (analyze) app_public.products');
    return {
      tenantId,
      userId,
      products: existing + productsAdded,
      productsAdded,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
