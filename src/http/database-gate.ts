// Fails fast while the database is away. When a request finds PostgreSQL unreachable
// (refused connection, server shutting down, connection dropped), the gate closes:
// later requests get 503 DATABASE_UNAVAILABLE at once instead of each waiting for a
// connection timeout, and a probe checks every `probeIntervalMs` until the database
// answers again, then the gate opens. No restart needed.
//
// A connection attempt that merely took too long proves nothing by itself: the pool may be
// exhausted (one busy tenant), or the event loop blocked for longer than the connect
// timeout (watch mode rebuilding the schema takes seconds of CPU), and the timer fires
// though the server answered. Such a failure closes the gate only once a connection of
// its own, outside the pool, fails to reach the server too.
import type { NextFunction, Request, Response } from 'express';
import pg from 'pg';
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
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      message,
    )
  );
}

/** A failure that says only that connecting took too long, not that the server is away. */
function isConnectTimeout(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (
    code === 'ETIMEDOUT' ||
    (typeof message === 'string' &&
      /timeout exceeded when trying to connect|Connection terminated due to connection timeout/.test(message))
  );
}

/** Whether the server answers a connection of its own (not the pool's) within the connect timeout. */
async function serverAnswers(pool: pg.Pool): Promise<boolean> {
  const client = new pg.Client({
    ...pool.options,
    connectionTimeoutMillis: pool.options.connectionTimeoutMillis,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface DatabaseGate {
  isOpen(): boolean;
  /** Report an error; closes the gate if it means the database is unreachable. */
  report(error: unknown): void;
  middleware: (req: Request, res: Response, next: NextFunction) => void;
  close(): void;
}

export function createDatabaseGate(pool: pg.Pool, logger: Logger, probeIntervalMs = 500): DatabaseGate {
  let open = true;
  let probe: NodeJS.Timeout | undefined;

  const startProbing = () => {
    probe = setInterval(() => {
      pool.query('select 1').then(
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

  let confirming = false;
  const close = (error: unknown) => {
    if (!open) return;
    open = false;
    logger.error({ err: error }, 'database unreachable; answering 503 until it is back');
    startProbing();
  };

  return {
    isOpen: () => open,
    report(error) {
      if (!open || !isDatabaseUnavailable(error)) return;
      if (!isConnectTimeout(error)) return close(error);
      if (confirming) return;
      confirming = true;
      void serverAnswers(pool)
        .then((answers) => {
          if (answers)
            logger.warn(
              { err: error },
              'a database connection timed out, but the server answers; gate stays open',
            );
          else close(error);
        })
        .finally(() => (confirming = false));
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
