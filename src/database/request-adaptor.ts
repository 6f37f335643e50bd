// PostGraphile's node-postgres adaptor, one round trip shorter per request.
//
// @dataplan/pg opens each request's transaction in two round trips: `begin`, wait, then
// the settings (role, claims, statement_timeout) in one set_config statement, wait, and
// only then the request's own SQL. Here the two go out together, pipelined on a pool in
// node-postgres's pipeline mode (`pipeline: true`), and the request's SQL follows once
// both have succeeded: nothing runs before the settings are in place. The rest, the
// client the plans query through, with its prepared statements and savepoints, is
// @dataplan/pg's own (the already-in-a-transaction client, given a client of ours for the
// one request). Watch mode's superuser connections keep the stock adaptor.
import type { PgAdaptor, WithPgClient } from '@dataplan/pg';
import type pg from 'pg';
import {
  createWithPgClient,
  makePgService,
  makeWithPgClientViaPgClientAlreadyInTransaction,
  type NodePostgresPgClient,
} from 'postgraphile/adaptors/pg';
import { beginAsRequest } from './as-request.ts';

type Service = ReturnType<typeof makePgService>;

function pipelinedWithPgClient(pool: pg.Pool): WithPgClient<NodePostgresPgClient> {
  const withPgClient: WithPgClient<NodePostgresPgClient> = async (pgSettings, callback) => {
    const client = await pool.connect();
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
      let result;
      try {
        result = await makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback);
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      }
      await client.query('commit');
      return result;
    } finally {
      // A connection that could not roll back is not handed to the next request.
      client.release(broken);
    }
  };
  return withPgClient;
}

/** makePgService's service, its requests' transactions opened by pipelinedWithPgClient. */
export function makeRequestPgService(
  options: Parameters<typeof makePgService>[0] & { pool: pg.Pool },
): Service {
  const service = makePgService(options);
  const { pool } = options;
  const adaptor: PgAdaptor<'@dataplan/pg/adaptors/pg'> = {
    ...service.adaptor,
    createWithPgClient: (settings, variant) =>
      variant === 'SUPERUSER' ? createWithPgClient(settings, variant) : pipelinedWithPgClient(pool),
  };
  return { ...service, adaptor };
}
