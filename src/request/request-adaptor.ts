// PostGraphile's node-postgres adaptor, one round trip shorter per request.
//
// @dataplan/pg opens each request's transaction in two round trips: `begin`, wait, then
// the settings (role, claims, statement_timeout) in one statement, wait, and
// only then the request's own SQL. Here the two go out together, pipelined on a pool in
// node-postgres's pipeline mode (`pipeline: true`), and the request's SQL follows once
// both have succeeded: nothing runs before the settings are in place. The rest, the
// client the plans query through, with its prepared statements and savepoints, is
// @dataplan/pg's own (the already-in-a-transaction client, given a client of ours for the
// one request). Watch mode's superuser connections keep the stock adaptor.
//
// Each connection is taken within the caller's share (work.ts: at most TENANT_CONNECTIONS
// per tenant, however many aliases run in parallel), and the time each transaction held
// it is added to the operation's work, which the limits plugin charges.
import type { PgAdaptor, WithPgClient } from '@dataplan/pg';
import type pg from 'pg';
import {
  createWithPgClient,
  makePgService,
  makeWithPgClientViaPgClientAlreadyInTransaction,
  type NodePostgresPgClient,
} from 'postgraphile/adaptors/pg';
import { beginAsRequest } from './as-request.ts';
import { heldMs, workOf, type ConnectionShares } from './work.ts';

type Service = ReturnType<typeof makePgService>;

function pipelinedWithPgClient(pool: pg.Pool, shares: ConnectionShares): WithPgClient<NodePostgresPgClient> {
  const withPgClient: WithPgClient<NodePostgresPgClient> = async (pgSettings, callback) => {
    // Within the share of whoever pays for the operation these settings belong to.
    const work = workOf(pgSettings);
    const client = await shares.connect(pool, work?.key);
    let broken: Error | undefined;
    try {
      const settings = Object.fromEntries(
        Object.entries(pgSettings ?? {}).flatMap(([key, value]) =>
          value == null ? [] : [[key, String(value)]],
        ),
      );
      // Without settings, statements run as the authenticator itself, outside a transaction, as stock does.
      if (Object.keys(settings).length === 0) {
        return await makeWithPgClientViaPgClientAlreadyInTransaction(client, false)(null, callback);
      }
      await beginAsRequest(client, settings);
      const started = performance.now();
      let failure: unknown;
      try {
        const result = await makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback);
        await client.query('commit');
        return result;
      } catch (error) {
        failure = error;
        await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        if (work) work.databaseMs += heldMs(started, failure, timeoutOf(settings));
      }
    } finally {
      // A connection that could not roll back is not handed to the next request.
      client.release(broken);
    }
  };
  return withPgClient;
}

function timeoutOf(settings: Record<string, string>): number | undefined {
  const ms = Number(settings.statement_timeout);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** makePgService's service, its requests' transactions opened by pipelinedWithPgClient. */
export function makeRequestPgService(
  options: Parameters<typeof makePgService>[0] & { pool: pg.Pool; shares: ConnectionShares },
): Service {
  const { pool, shares, ...serviceOptions } = options;
  const service = makePgService({ ...serviceOptions, pool });
  const adaptor: PgAdaptor<'@dataplan/pg/adaptors/pg'> = {
    ...service.adaptor,
    createWithPgClient: (settings, variant) =>
      variant === 'SUPERUSER' ? createWithPgClient(settings, variant) : pipelinedWithPgClient(pool, shares),
  };
  return { ...service, adaptor };
}
