// Fails fast while the database is away. When a request finds PostgreSQL unreachable
// (refused connection, server shutting down, connection dropped), the gate closes:
// later requests get 503 DATABASE_UNAVAILABLE at once instead of each waiting for a
// connection timeout, and a probe checks every `probeIntervalMs` until the database
// answers again, then the gate opens. No restart needed.
//
// A busy pool is not a dead database: "timeout exceeded when trying to connect" is
// pg-pool saying every connection is taken, and one tenant can cause that. It fails the
// one request that waited (503 DATABASE_BUSY, src/request/work.ts) and never
// closes the gate, and the probe opens a connection of its own rather than waiting for a
// pool connection, so a saturated pool cannot keep the gate shut either.
//
// A new connection that merely took too long to open proves nothing by itself either: the
// event loop may have been blocked for longer than the connect timeout (watch mode
// rebuilding the schema takes seconds of CPU), and the timer fired though the server
// answered. Such a failure closes the gate only once a connection of its own fails too.
import type { NextFunction, Request, Response } from 'express';
import pg from 'pg';
import { isConnectTimeout } from '../request/work.ts';
import { sendError } from '../errors/catalogue.ts';
import type { Logger } from '../logger.ts';

// SQLSTATEs and driver errors that mean "the server is not there", not "your query failed".
const unavailableCodes = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code && unavailableCodes.has(code)) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|Client has encountered a connection error/.test(message)
  );
}

export interface DatabaseGate {
  isOpen(): boolean;
  /** Report an error; closes the gate if it means the database is unreachable. */
  report(error: unknown): void;
  middleware: (req: Request, res: Response, next: NextFunction) => void;
  close(): void;
}

/** Whether PostgreSQL answers, on a connection of its own (never one of the pool's). */
async function answers(connectionString: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    application_name: 'tenantgraph gate probe',
  });
  // A connection lost mid-probe is a failed probe, not an uncaught error.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => {});
  }
}

export function createDatabaseGate(
  connectionString: string,
  logger: Logger,
  probeIntervalMs = 500,
): DatabaseGate {
  let open = true;
  let probe: NodeJS.Timeout | undefined;
  let probing = false;
  let confirming = false;
  const probeTimeoutMs = Math.max(probeIntervalMs * 4, 2_000);

  const close = (error: unknown) => {
    if (!open) return;
    open = false;
    logger.error({ err: error }, 'database unreachable; answering 503 until it is back');
    startProbing();
  };

  const startProbing = () => {
    probe = setInterval(() => {
      // One probe at a time: a database that accepts slowly must not collect connections.
      if (probing) return;
      probing = true;
      answers(connectionString, probeTimeoutMs)
        .finally(() => (probing = false))
        .then(
          () => {
            if (open) return;
            open = true;
            clearInterval(probe);
            probe = undefined;
            logger.info('database is back; serving again');
          },
          () => {},
        );
    }, probeIntervalMs);
    probe.unref();
  };

  return {
    isOpen: () => open,
    report(error) {
      if (!open || !isDatabaseUnavailable(error)) return;
      if (isConnectTimeout(error)) {
        if (confirming) return;
        confirming = true;
        answers(connectionString, probeTimeoutMs)
          .then(
            () =>
              logger.warn(
                { err: error },
                'a database connection timed out, but the server answers; gate stays open',
              ),
            () => close(error),
          )
          .finally(() => (confirming = false));
        return;
      }
      close(error);
    },
    middleware(_req, res, next) {
      if (open) return next();
      sendError(res, 'DATABASE_UNAVAILABLE');
    },
    close() {
      clearInterval(probe);
    },
  };
}
