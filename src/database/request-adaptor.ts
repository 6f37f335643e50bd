// PostGraphile's node-postgres adaptor, two round trips shorter per request.
//
// @dataplan/pg opens each request's transaction in two round trips: `begin`, wait, then
// the settings (role, claims, statement_timeout) in one set_config statement, wait, and
// only then the request's own SQL. Here all three go out together, pipelined (the pool
// is in node-postgres's pipeline mode, `pipeline: true`), and the answers are read as
// they come. That is safe because PostgreSQL runs a transaction's statements in order
// and, once one fails, runs nothing more of it: the request's SQL runs with its settings
// in place or not at all. (Were `begin` itself to fail, which an idle connection's does
// not, the SQL would run as the authenticator, which reads no table: sql-roles.test.ts.)
// The client the plans query through, with its prepared statements and savepoints, is
// @dataplan/pg's own (its already-in-a-transaction client, given a connection of ours
// for the one request). Watch mode's superuser connections keep the stock adaptor.
import type { PgAdaptor, WithPgClient } from '@dataplan/pg';
import type pg from 'pg';
import {
  createWithPgClient,
  makePgService,
  makeWithPgClientViaPgClientAlreadyInTransaction,
  type NodePostgresPgClient,
} from 'postgraphile/adaptors/pg';
import { applyRequestSettings } from './as-request.ts';

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
      // In this order on the wire; the request's SQL does not wait for the answers before it.
      const [began, applied, ran] = await Promise.allSettled([
        client.query('begin'),
        applyRequestSettings(client, settings),
        makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback),
      ]);
      const failure = [began, applied, ran].find((outcome) => outcome.status === 'rejected');
      if (failure) {
        await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
        // The settings' own error first: the statements behind it only say the transaction was aborted.
        throw failure.reason;
      }
      await client.query('commit');
      return (ran as PromiseFulfilledResult<Awaited<ReturnType<typeof callback>>>).value;
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
