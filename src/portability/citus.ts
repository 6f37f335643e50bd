// What exports, imports and erasures do differently on a Citus coordinator
// (docs/citus.md, "Exports, imports and off-boarding"). Each statement here does nothing
// on plain PostgreSQL: the queries select from pg_extension, which has no citus row there.
import type pg from 'pg';

/** Whether the database runs on Citus (the extension is installed). */
export async function onCitus(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ citus: boolean }>(
    `select exists (select 1 from pg_catalog.pg_extension where extname = 'citus') as citus`,
  );
  return rows[0]!.citus;
}

/**
 * On Citus, for the rest of the transaction: one connection per worker for multi-shard
 * writes. An import or an erasure writes reference tables (tenants, users,
 * tenant_erasures) and the distributed tables whose foreign keys point at them in one
 * transaction, which Citus refuses in its default parallel mode.
 */
export async function writeOneConnectionPerWorker(client: pg.ClientBase): Promise<void> {
  await client.query(
    `select pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true)
     from pg_catalog.pg_extension where extname = 'citus'`,
  );
}

/**
 * On Citus, for the rest of the transaction: one connection per worker for reads too, so
 * that a repeatable-read transaction reads each worker, and so each tenant (whose rows of
 * every table are on one worker), at one moment. Citus opens a worker's transaction at
 * the first query that reaches it, with the coordinator's isolation level; with more than
 * one connection to a worker, each would have a snapshot of its own.
 */
export async function readOneConnectionPerWorker(client: pg.ClientBase): Promise<void> {
  await client.query(
    `select pg_catalog.set_config('citus.max_adaptive_executor_pool_size', '1', true)
     from pg_catalog.pg_extension where extname = 'citus'`,
  );
}

/**
 * Transaction-local settings that reach the workers too: set_config on plain PostgreSQL
 * (as before), a propagated SET LOCAL on Citus, where set_config stays on the coordinator
 * and a query's conditions run on the shards (app_private.apply_request_settings,
 * migration 000025: the server quotes names and values).
 */
export async function setLocal(client: pg.ClientBase, settings: Array<[string, string]>): Promise<void> {
  await client.query('select app_private.apply_request_settings($1::json)', [JSON.stringify(settings)]);
}
