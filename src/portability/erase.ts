// Off-boarding (docs/portability.md, "Off-boarding"): every row of the tenant in every
// tenant table, the tenant itself, its members who belong to no other tenant, and its
// queued jobs go, in one transaction as the owner. What stays, for accountability, is the
// tenant's audit trail for OFFBOARDED_AUDIT_RETENTION_DAYS: every removed person's id in
// it (and in other tenants' trails) replaced by a random pseudonym, and the erased
// tenant's changed values reduced to the names of the columns. The daily retention job
// then deletes those events and the erasure's record (app_private.tenant_erasures).
//
// The same statements run on a Citus coordinator (docs/citus.md): no sub-select in an
// INSERT, none correlated with a reference table's rows, no volatile function in an
// UPDATE of a distributed table; what those did is computed by a statement of its own
// or here (a pseudonym, the hashes of the removed people's ids).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeOneConnectionPerWorker } from './citus.ts';
import { AUDIT_TABLE, DEFAULT_SCHEMAS, qualified, tenantTables, type Table } from './tables.ts';
import { hashOf } from './verify-erased.ts';

/**
 * Deletes the tenant's rows from every tenant table (children first) and its tenant row.
 * Runs inside the caller's transaction. The erasure record it writes (if none is there)
 * lets the tenant's last owner go (tg_memberships__keep_an_owner).
 */
export async function eraseTenantRows(
  client: pg.ClientBase,
  tenantId: string,
  tables: Table[],
  { keepHistory }: { keepHistory: boolean },
): Promise<Record<string, number>> {
  await writeOneConnectionPerWorker(client);
  const {
    rows: [members],
  } = await client.query<{ ids: string[] }>(
    `select coalesce(array_agg(user_id), '{}') as ids from app_public.memberships where tenant_id = $1`,
    [tenantId],
  );
  // A record already there (deleteTenant wrote one) keeps its people and gains these; the
  // reader drops repeats (erase(), below).
  await client.query(
    `insert into app_private.tenant_erasures (erased_tenant_id, user_ids) values ($1, $2::uuid[])
     on conflict (erased_tenant_id) do update set erased_at = null,
       user_ids = coalesce(tenant_erasures.user_ids, '{}') || excluded.user_ids`,
    [tenantId, members!.ids],
  );
  const rows: Record<string, number> = {};
  for (const table of [...tables].reverse()) {
    if (keepHistory && table.tag === 'history') continue;
    rows[table.name] =
      (await client.query(`delete from ${qualified(table)} where tenant_id = $1`, [tenantId])).rowCount ?? 0;
  }
  rows['app_public.tenants'] =
    (await client.query('delete from app_public.tenants where id = $1', [tenantId])).rowCount ?? 0;
  return rows;
}

export interface ErasureOptions {
  /** Days the tenant's pseudonymised audit events are kept; 0 deletes them now. */
  auditRetentionDays: number;
  schemas?: string[] | undefined;
}

export interface ErasureResult {
  tenantId: string;
  /** Rows deleted per table. */
  rows: Record<string, number>;
  /** Members removed with the tenant (they belonged to no other). */
  removedUsers: number;
  /** Members kept: they belong to another tenant too. */
  keptUsers: number;
  /** Audit events of the tenant kept, pseudonymised, until retainedUntil. */
  auditEventsRetained: number;
  retainedUntil: Date;
  /** Queued jobs of the tenant removed. */
  jobsCancelled: number;
}

/** Erases a tenant in its own transaction on `client` (a connection as the owner). */
export async function eraseTenant(
  client: pg.ClientBase,
  tenantId: string,
  options: ErasureOptions,
): Promise<ErasureResult> {
  await client.query('begin');
  try {
    const result = await erase(client, tenantId, options);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

async function erase(
  client: pg.ClientBase,
  tenantId: string,
  options: ErasureOptions,
): Promise<ErasureResult> {
  const tables = await tenantTables(client, options.schemas ?? DEFAULT_SCHEMAS);
  const rows = await eraseTenantRows(client, tenantId, tables, { keepHistory: true });
  const {
    rows: [receipt],
  } = await client.query<{ user_ids: string[] }>(
    'select user_ids from app_private.tenant_erasures where erased_tenant_id = $1 for update',
    [tenantId],
  );
  const members = [...new Set(receipt!.user_ids ?? [])];

  // Members of no other tenant go; their rows elsewhere follow their foreign keys (memberships cascade, creators become null).
  const { rows: removed } = await client.query<{ id: string }>(
    `delete from app_public.users u where u.id = any($1::uuid[])
       and u.id not in (select m.user_id from app_public.memberships m where m.user_id = any($1::uuid[]))
     returning u.id`,
    [members],
  );
  const removedIds = removed.map((r) => r.id);

  // The trail: each removed person becomes one random pseudonym, everywhere it names them
  // (made here and kept nowhere: one value for every shard's rows).
  for (const id of removedIds) {
    await client.query(
      `update ${AUDIT_TABLE} e set
         actor_user_id = case when e.actor_user_id = $1::uuid then $2::uuid else e.actor_user_id end,
         row_key = replace(e.row_key::text, $1::text, $2::text)::jsonb,
         changes = replace(e.changes::text, $1::text, $2::text)::jsonb
       where e.actor_user_id = $1::uuid or strpos(e.row_key::text, $1::text) > 0 or strpos(e.changes::text, $1::text) > 0`,
      [id, randomUUID()],
    );
  }
  let auditEventsRetained = 0;
  if (options.auditRetentionDays > 0) {
    // What happened, when and by whom (pseudonymously) stays; the values do not.
    auditEventsRetained =
      (
        await client.query(
          `update ${AUDIT_TABLE} e set changes = (select coalesce(jsonb_object_agg(k, '{"erased": true}'::jsonb), '{}') from jsonb_object_keys(e.changes) k)
           where e.tenant_id = $1`,
          [tenantId],
        )
      ).rowCount ?? 0;
  } else {
    rows[AUDIT_TABLE] =
      (await client.query(`delete from ${AUDIT_TABLE} where tenant_id = $1`, [tenantId])).rowCount ?? 0;
  }

  // Jobs not yet taken by a worker (an invitation's mail, an export); graphile-worker 0.18's table.
  const jobs = await client.query(
    `delete from graphile_worker._private_jobs where locked_at is null and payload::jsonb ->> 'tenantId' = $1`,
    [tenantId],
  );

  const {
    rows: [done],
  } = await client.query<{ retained_until: Date }>(
    `update app_private.tenant_erasures set erased_at = now(), user_ids = null,
       user_id_hashes = $2::bytea[], retained_until = now() + make_interval(days => $3)
     where erased_tenant_id = $1 returning retained_until`,
    [tenantId, removedIds.map(hashOf), options.auditRetentionDays],
  );
  return {
    tenantId,
    rows,
    removedUsers: removedIds.length,
    keptUsers: members.length - removedIds.length,
    auditEventsRetained,
    retainedUntil: done!.retained_until,
    jobsCancelled: jobs.rowCount ?? 0,
  };
}

/** Deletes the audit events and erasure records whose retention has ended (run by the daily retention job). */
export async function purgeRetainedErasures(
  query: (sql: string) => Promise<{ rowCount: number | null }>,
): Promise<{ events: number; erasures: number }> {
  const events = await query(
    `delete from ${AUDIT_TABLE} e using app_private.tenant_erasures r
     where e.tenant_id = r.erased_tenant_id and r.erased_at is not null and r.retained_until < now()`,
  );
  const erasures = await query(
    'delete from app_private.tenant_erasures where erased_at is not null and retained_until < now()',
  );
  return { events: events.rowCount ?? 0, erasures: erasures.rowCount ?? 0 };
}
