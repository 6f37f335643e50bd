// Running SQL as a given identity, the way the API does: one transaction on the
// authenticator's connection, the role and claims set transaction-locally.
import pg from 'pg';
import { inject } from 'vitest';
import { applyRequestSettings } from '../../src/request/as-request.ts';
import { pgSettingsFor, type Identity } from '../../src/auth/claims.ts';
import { onDatabase } from '../../src/database/location.ts';
import { databaseNameOf } from '../../src/database/migrations.ts';

export type { Identity };

const database = inject('database');
const roles = { visitor: database.visitor, anonymous: database.anonymous };

const pools = new Map<string, pg.Pool>();
function pool(connectionString: string): pg.Pool {
  let existing = pools.get(connectionString);
  if (!existing) {
    existing = new pg.Pool({ connectionString, max: 4 });
    pools.set(connectionString, existing);
  }
  return existing;
}

export async function closePools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.end()));
  pools.clear();
}

/**
 * Sets what the API sets for a request of `identity` (null: anonymous), as it does:
 * the settings of `pgSettingsFor`, transaction-locally, in the statement @dataplan/pg
 * sends. Call it inside a transaction.
 */
export async function setRequestSettings(client: pg.ClientBase, identity: Identity | null): Promise<void> {
  await applyRequestSettings(client, pgSettingsFor(identity, roles));
}

export interface RunOptions {
  /** Commit instead of rolling back, so a test can check afterwards what an attack left behind. */
  commit?: boolean;
}

async function inTransaction<T>(
  connectionString: string,
  identity: Identity | null | 'none',
  fn: (client: pg.PoolClient) => Promise<T>,
  { commit = false }: RunOptions,
): Promise<T> {
  const client = await pool(connectionString).connect();
  try {
    await client.query('begin');
    if (identity !== 'none') await setRequestSettings(client, identity);
    const result = await fn(client);
    await client.query(commit ? 'commit' : 'rollback');
    return result;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

/** As a request of this identity would run: the API's own pgSettingsFor, in one transaction. */
export function asUser<T>(
  identity: Identity,
  fn: (db: pg.PoolClient) => Promise<T>,
  options: RunOptions = {},
): Promise<T> {
  return inTransaction(database.authenticatorUrl, identity, fn, options);
}

/** As a request without a token would run. */
export function asAnonymous<T>(fn: (db: pg.PoolClient) => Promise<T>, options: RunOptions = {}): Promise<T> {
  return inTransaction(database.authenticatorUrl, null, fn, options);
}

/** The API's own login, before any role switch: what it may do on its own account. */
export function withAuthenticator<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(database.authenticatorUrl, 'none', fn, {});
}

/** The migration owner, for arranging fixtures and checking results; commits. */
export function asOwner<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(database.ownerUrl, 'none', fn, { commit: true });
}

/**
 * Bulk loads for tests that need a big tenant: `fn` runs in one transaction as the
 * superuser on the test database, with `session_replication_role = replica`, so the row
 * triggers (audit trail, realtime notify, updated_at) skip these rows, which are load, not
 * history. With them, 60,000 products took 6-7 s on an idle 2-core machine and 28 s on a
 * busy one; without, under 1 s. Only a superuser may set it, and it holds for this
 * transaction only.
 */
export async function withoutRowTriggers<T>(fn: (db: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = new pg.Client(onDatabase(database.rootUrl, databaseNameOf(database.ownerUrl)));
  await client.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } finally {
    await client.end();
  }
}

/** `count` products named `namePrefix` and a number, in one statement without row triggers. */
export function bulkProducts(tenantId: string, count: number, namePrefix = 'bulk '): Promise<unknown> {
  return withoutRowTriggers((db) =>
    db.query(
      `insert into app_public.products (tenant_id, name, price)
       select $1, $2 || n, n % 1000 from generate_series(1, $3::int) n`,
      [tenantId, namePrefix, count],
    ),
  );
}

/** The PostgreSQL error a promise rejects with (fails the test if it resolves). */
export async function pgError(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the statement to fail, but it succeeded');
}
