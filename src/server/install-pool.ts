// Step 1, the pool: the authenticator's connections, the database gate that fails requests
// fast while the database is away, each caller's share of the pool, and the constraint
// messages read once at start-up (the first query, so a database that does not answer
// fails the start with a StartupError).
import pg from 'pg';
import { createConnectionShares, type ConnectionShares } from '../request/work.ts';
import { createDatabaseGate, type DatabaseGate } from '../http/database-gate.ts';
import type { Logger } from '../logger.ts';
import type { TenantgraphOptions } from '../options.ts';
import { loadConstraintMessages, type ConstraintMessages } from '../plugins/mask-errors.ts';
import { EXPOSED_SCHEMAS } from '../plugins/preset.ts';
import type { Closable } from '../shutdown.ts';
import { StartupError } from '../startup-error.ts';

/** The least connect timeout in watch mode: longer than a schema rebuild blocks the event loop. */
const WATCH_CONNECT_TIMEOUT_MS = 15_000;

export interface DatabasePool {
  pool: pg.Pool;
  gate: DatabaseGate;
  shares: ConnectionShares;
  constraintMessages: ConstraintMessages;
  /** Closes the gate, then the pool: after everything that uses them. */
  resource: Closable;
}

export async function installPool({
  authenticatorUrl,
  tenantgraph: options,
  watch,
  logger,
}: {
  authenticatorUrl: string;
  tenantgraph: TenantgraphOptions;
  watch?: { superuserUrl: string } | undefined;
  logger: Logger;
}): Promise<DatabasePool> {
  const { timeouts } = options;
  const pool = new pg.Pool({
    connectionString: authenticatorUrl,
    max: options.poolSize,
    // Watch mode rebuilds the schema in seconds of CPU that block the event loop: a connect
    // timer shorter than that fires though the server answered (development only).
    connectionTimeoutMillis: watch
      ? Math.max(timeouts.connectMs, WATCH_CONNECT_TIMEOUT_MS)
      : timeouts.connectMs,
    // Statements of one request go out together where they can (src/request/request-adaptor.ts).
    pipeline: true,
  });
  const gate = createDatabaseGate(authenticatorUrl, logger);
  // A tenant's statements queue in its share for as long as one statement of its own may run, and a connect.
  const shares = createConnectionShares({
    perKey: options.work.connectionsPerKey,
    queueTimeoutMs: timeouts.statementMs + timeouts.connectMs,
  });
  // pg-pool only listens for errors on idle clients. A connection lost while a request
  // holds it (between two of its queries) would otherwise be an uncaught exception that
  // ends the process; the request itself fails on its next query.
  pool.on('connect', (client) => {
    client.on('error', (error) => gate.report(error));
    // What @dataplan/pg's stock adaptor sets on each new connection (request-adaptor.ts
    // replaces it): no JIT optimisation, which costs short queries far more than it saves.
    client.query('set jit_optimize_above_cost = -1').catch((error: Error) => gate.report(error));
  });

  let constraintMessages;
  try {
    constraintMessages = await loadConstraintMessages(pool, EXPOSED_SCHEMAS);
  } catch (error) {
    await pool.end();
    throw new StartupError(
      `Cannot reach the database as the authenticator role: ${(error as Error).message}`,
    );
  }
  // An idle connection dropped by the server must not take the process down.
  pool.on('error', (error) => {
    logger.warn({ err: error }, 'idle database connection lost');
    gate.report(error);
  });
  return {
    pool,
    gate,
    shares,
    constraintMessages,
    resource: {
      name: 'database pool',
      async close() {
        gate.close();
        await pool.end();
      },
    },
  };
}
