// The abuse section's attacker: a tenant of its own, `bench-abuse` (not in
// bench.tenant_index, so no other section picks it), with a member, 10 categories and
// many products, made once in SQL as the owner (as bench:data loads) and topped up when
// a run asks for more.
//
// The rows are shaped for the attacks of sections/abuse.ts: ABUSE_NAMES distinct names
// (`item 0` .. `item 4999`, short, so that all of them fit in one request's variables
// under MAX_BODY_BYTES), none containing "zzi"; prices 0.50-1000.00; one row in 11
// uncategorised, the others spread over the categories; `created_at` over one year, so
// grouping by the hour makes ~8,760 groups.
import pg from 'pg';
import { AUDIT_TRIGGER } from './accountability.ts';

export const ABUSE_SLUG = 'bench-abuse';
export const ABUSE_NAMES = 5_000;
const CATEGORIES = 10;

export interface AttackerTenant {
  tenantId: string;
  userId: string;
  products: number;
  productsAdded: number;
  seconds: number;
}

export async function ensureAttackerTenant(ownerUrl: string, products: number): Promise<AttackerTenant> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    const { rows: tenants } = await client.query<{ id: string }>(
      `with made as (
         insert into app_public.tenants (slug, name) values ($1, 'Abuse bench attacker')
         on conflict (slug) do nothing returning id
       )
       select id from made union all select id from app_public.tenants where slug = $1`,
      [ABUSE_SLUG],
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
          `insert into app_public.users (id, email, display_name)
           values (gen_random_uuid(), 'attacker@bench.test', 'Abuse bench attacker') returning id`,
        )
      ).rows[0]!.id;
      await client.query(
        `insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, 'member')`,
        [tenantId, userId],
      );
      await client.query(
        `insert into app_public.categories (tenant_id, name)
         select $1, 'Category ' || c from generate_series(1, $2::int) as c`,
        [tenantId, CATEGORIES],
      );
    }
    const existing = Number(
      (
        await client.query<{ count: string }>(
          'select count(*) as count from app_public.products where tenant_id = $1',
          [tenantId],
        )
      ).rows[0]!.count,
    );
    const productsAdded = Math.max(0, products - existing);
    if (productsAdded > 0) {
      // Without an audit event per row (as a restore would load them): the trigger took
      // 6-9 times as long as the insert itself (bench/README.md, "The data"). Disabled
      // inside this transaction only: if anything fails, the rollback re-enables it.
      await client.query(`alter table app_public.products disable trigger ${AUDIT_TRIGGER}`);
      await client.query(
        `insert into app_public.products (tenant_id, category_id, name, price, created_at, updated_at)
         select $1,
                case when i % 11 = 0 then null else categories.ids[1 + i % array_length(categories.ids, 1)] end,
                'item ' || (i % $4::int),
                0.50 + (i * 7919 % 99951) / 100.0,
                t, t
         from generate_series($2::int, $3::int) as i,
              lateral (select now() - (i % 8760) * interval '1 hour' - (i * 37 % 3600) * interval '1 second' as t) as at,
              (select array_agg(id order by name) as ids from app_public.categories where tenant_id = $1) as categories`,
        [tenantId, existing + 1, products, ABUSE_NAMES],
      );
      await client.query(`alter table app_public.products enable trigger ${AUDIT_TRIGGER}`);
    }
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

/** Deletes what the section's createProduct loop added (names start with `marker`). */
export async function deleteCreated(ownerUrl: string, tenantId: string, marker: string): Promise<number> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query(
      'delete from app_public.products where tenant_id = $1 and starts_with(name, $2)',
      [tenantId, marker],
    );
    return rowCount ?? 0;
  } finally {
    await client.end();
  }
}
