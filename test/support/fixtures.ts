// Committed fixtures, created as the owner: each test makes its own tenants with
// random ids and slugs, so tests run in parallel without seeing each other.
import { randomUUID } from 'node:crypto';
import type { TestApi, TokenClaims } from './api.ts';
import { asOwner } from './db.ts';

export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface TenantFixture {
  id: string;
  slug: string;
  users: Record<Role, string>;
  categoryId: string;
  productIds: string[];
}

const roles: Role[] = ['owner', 'admin', 'member', 'viewer'];

/** A tenant with one user per role, a category and two products in it. */
export async function createTenant(label = 'tenant'): Promise<TenantFixture> {
  const id = randomUUID();
  const slug = `${label}-${id.slice(0, 8)}`;
  const users = Object.fromEntries(roles.map((role) => [role, randomUUID()])) as Record<Role, string>;
  const categoryId = randomUUID();
  const productIds = [randomUUID(), randomUUID()];
  await asOwner(async (db) => {
    await db.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3)', [
      id,
      slug,
      `${label} ${slug}`,
    ]);
    for (const role of roles) {
      await db.query('insert into app_public.users (id, email) values ($1, $2)', [
        users[role],
        `${role}-${users[role]}@example.test`,
      ]);
      await db.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [
        id,
        users[role],
        role,
      ]);
    }
    await db.query('insert into app_public.categories (tenant_id, id, name) values ($1, $2, $3)', [
      id,
      categoryId,
      'Tools',
    ]);
    await db.query(
      `insert into app_public.products (tenant_id, id, category_id, name, price)
       values ($1, $2, $4, 'Hammer', 12.50), ($1, $3, null, 'Gift card', 25.00)`,
      [id, productIds[0], productIds[1], categoryId],
    );
  });
  return { id, slug, users, categoryId, productIds };
}

/** Everything a tenant owns, read as the owner: to prove an attack changed nothing. */
export function snapshot(tenantId: string) {
  return asOwner(async (db) => ({
    products: (
      await db.query('select * from app_public.products where tenant_id = $1 order by id', [tenantId])
    ).rows,
    categories: (
      await db.query('select * from app_public.categories where tenant_id = $1 order by id', [tenantId])
    ).rows,
    memberships: (
      await db.query('select * from app_public.memberships where tenant_id = $1 order by user_id', [tenantId])
    ).rows,
    tenant: (await db.query('select * from app_public.tenants where id = $1', [tenantId])).rows,
  }));
}

export interface VictimAndAttacker {
  a: TenantFixture;
  b: TenantFixture;
  /** A's global ids, as A's viewer reads them through the API. */
  aIds: { products: string[]; category: string };
  /** A's data before any attack. */
  before: Awaited<ReturnType<typeof snapshot>>;
}

/** Tenant A (the victim) and tenant B (the attacker) for isolation tests through the API. */
export async function victimAndAttacker(
  api: Pick<TestApi, 'post'>,
  tokenFor: (claims: TokenClaims) => string,
): Promise<VictimAndAttacker> {
  const [a, b] = await Promise.all([createTenant('victim'), createTenant('attacker')]);
  const { status, body } = await api.post(
    { query: '{ products { nodes { id } } categories { nodes { id } } }' },
    { authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` },
  );
  if (status !== 200 || body.errors)
    throw new Error(`A's viewer could not read A's ids: HTTP ${status} ${JSON.stringify(body)}`);
  const aIds = {
    products: body.data.products.nodes.map((n: { id: string }) => n.id),
    category: body.data.categories.nodes[0].id,
  };
  if (aIds.products.length !== 2) throw new Error(`expected A's 2 products, got ${aIds.products.length}`);
  return { a, b, aIds, before: await snapshot(a.id) };
}
