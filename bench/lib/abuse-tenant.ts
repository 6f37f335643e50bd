// The abuse section's attacker: a tenant of its own, `bench-abuse` (lib/tenants.ts,
// ensureOwnTenant), with a member, 10 categories and many products.
//
// The rows are shaped for the attacks of sections/abuse.ts: ABUSE_NAMES distinct names
// (`item 0` .. `item 4999`, short, so that all of them fit in one request's variables
// under MAX_BODY_BYTES), none containing "zzi"; prices 0.50-1000.00; one row in 11
// uncategorised, the others spread over the categories; `created_at` over one year, so
// grouping by the hour makes ~8,760 groups.
import pg from 'pg';
import { AUDIT_TRIGGER } from './ab-presets.ts';
import { ensureOwnTenant, type OwnTenant } from './tenants.ts';

export const ABUSE_SLUG = 'bench-abuse';
export const ABUSE_NAMES = 5_000;
const CATEGORIES = 10;

export function ensureAttackerTenant(ownerUrl: string, products: number): Promise<OwnTenant> {
  return ensureOwnTenant(ownerUrl, {
    slug: ABUSE_SLUG,
    name: 'Abuse bench attacker',
    email: 'attacker@bench.test',
    categories: CATEGORIES,
    products,
    async insertProducts(client, tenantId, from, to) {
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
        [tenantId, from, to, ABUSE_NAMES],
      );
      await client.query(`alter table app_public.products enable trigger ${AUDIT_TRIGGER}`);
    },
  });
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
