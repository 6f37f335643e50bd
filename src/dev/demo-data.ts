// The development data set: two tenants, users in different roles, categories and
// products, so a newcomer sees isolation in GraphiQL within a minute. Fixed ids keep
// printed tokens valid across restarts; inserting twice changes nothing.
import pg from 'pg';

export const demoTenants = {
  acme: { id: '0a000000-0000-4000-8000-000000000001', name: 'Acme Corporation' },
  globex: { id: '0b000000-0000-4000-8000-000000000002', name: 'Globex' },
} as const;

export const demoUsers = [
  { email: 'alice@acme.test', id: '1a000000-0000-4000-8000-000000000001', name: 'Alice', tenant: 'acme', role: 'owner' },
  { email: 'bob@acme.test', id: '1a000000-0000-4000-8000-000000000002', name: 'Bob', tenant: 'acme', role: 'viewer' },
  { email: 'carol@globex.test', id: '1b000000-0000-4000-8000-000000000003', name: 'Carol', tenant: 'globex', role: 'owner' },
  { email: 'dave@globex.test', id: '1b000000-0000-4000-8000-000000000004', name: 'Dave', tenant: 'globex', role: 'member' },
] as const;

const catalogue = {
  acme: { Anvils: [['Classic anvil', '149.00'], ['Portable anvil', '89.50']], Rockets: [['Rocket skates', '299.99'], ['Giant slingshot', '45.00']] },
  globex: { Gadgets: [['Doomsday device', '9999.00'], ['Hammock', '59.90']], Snacks: [['Lemonade', '2.50']] },
} as const;

export async function seedDemoData(ownerUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    for (const [slug, tenant] of Object.entries(demoTenants)) {
      await client.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3) on conflict do nothing', [tenant.id, slug, tenant.name]);
      for (const [category, products] of Object.entries(catalogue[slug as keyof typeof catalogue])) {
        const { rows } = await client.query<{ id: string }>(
          `insert into app_public.categories (tenant_id, name) values ($1, $2)
           on conflict (tenant_id, name) do update set name = excluded.name returning id`,
          [tenant.id, category],
        );
        for (const [name, price] of products) {
          await client.query(
            `insert into app_public.products (tenant_id, category_id, name, price)
             select $1, $2, $3, $4 where not exists (select 1 from app_public.products where tenant_id = $1 and name = $3)`,
            [tenant.id, rows[0]!.id, name, price],
          );
        }
      }
    }
    for (const user of demoUsers) {
      await client.query('insert into app_public.users (id, email, display_name) values ($1, $2, $3) on conflict do nothing', [user.id, user.email, user.name]);
      await client.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3) on conflict do nothing', [
        demoTenants[user.tenant].id,
        user.id,
        user.role,
      ]);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    await client.end();
  }
}
