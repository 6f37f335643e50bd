// One transaction as a request's identity, with its settings applied the way PostGraphile
// applies them: transaction-local, in one statement. app_private.apply_request_settings
// uses set_config on plain PostgreSQL and SET LOCAL on Citus, where only SET LOCAL
// reaches the workers (docs/citus.md). GraphQL requests open
// theirs through request-adaptor.ts; the export download and the subscriber's look-ups
// use asRequest.
import type pg from 'pg';
import { heldMs, type ConnectionShares, type OperationWork } from './work.ts';

const SET_CONFIG = 'select app_private.apply_request_settings($1::json)';

/** Applies request settings (role, claims) to the client's open transaction. */
export async function applyRequestSettings(
  client: pg.ClientBase,
  settings: Record<string, string>,
): Promise<void> {
  await client.query(SET_CONFIG, [JSON.stringify(Object.entries(settings))]);
}

/**
 * Opens a transaction and applies the settings. On a client in pipeline mode (the API's
 * pool) both statements go out in one round trip; the caller's SQL is sent only after both
 * succeeded, so none of it can run without the settings. Throws, with the transaction
 * rolled back, when either fails.
 */
export async function beginAsRequest(
  client: pg.Client | pg.PoolClient,
  settings: Record<string, string>,
): Promise<void> {
  if (!client.pipeline) {
    await client.query('begin');
    return applyRequestSettings(client, settings);
  }
  const [began, applied] = await Promise.allSettled([
    client.query('begin'),
    applyRequestSettings(client, settings),
  ]);
  const failed = [began, applied].find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await client.query('rollback');
    throw failed.reason;
  }
}

/** Who pays for an asRequest transaction: its connection is taken in `work.key`'s share, its time added to `work`. */
export interface PaidBy {
  shares: ConnectionShares;
  work: OperationWork;
}

/**
 * Runs `fn` in a transaction on a pooled connection as the settings say; nothing outlives
 * it. With `paidBy`, the connection counts against the payer's share and its time is
 * added to the payer's work, as for a GraphQL operation's (request-adaptor.ts).
 */
export async function asRequest<T>(
  pool: pg.Pool,
  settings: Record<string, string>,
  fn: (client: pg.PoolClient) => Promise<T>,
  paidBy?: PaidBy,
): Promise<T> {
  const client = paidBy ? await paidBy.shares.connect(pool, paidBy.work.key) : await pool.connect();
  let started: number | undefined;
  let failure: unknown;
  try {
    await beginAsRequest(client, settings);
    started = performance.now();
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    failure = error;
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    if (paidBy && started !== undefined)
      paidBy.work.databaseMs += heldMs(started, failure, Number(settings.statement_timeout) || undefined);
    client.release();
  }
}
