// Committed fixtures, created as the owner: each test makes its own tenants with
// random ids and slugs, so tests run in parallel without seeing each other.
import { randomUUID } from 'node:crypto';
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
    await db.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3)', [id, slug, `${label} ${slug}`]);
    for (const role of roles) {
      await db.query('insert into app_public.users (id, email) values ($1, $2)', [users[role], `${role}-${users[role]}@example.test`]);
      await db.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [id, users[role], role]);
    }
    await db.query('insert into app_public.categories (tenant_id, id, name) values ($1, $2, $3)', [id, categoryId, 'Tools']);
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
    products: (await db.query('select * from app_public.products where tenant_id = $1 order by id', [tenantId])).rows,
    categories: (await db.query('select * from app_public.categories where tenant_id = $1 order by id', [tenantId])).rows,
    memberships: (await db.query('select * from app_public.memberships where tenant_id = $1 order by user_id', [tenantId])).rows,
    tenant: (await db.query('select * from app_public.tenants where id = $1', [tenantId])).rows,
  }));
}
