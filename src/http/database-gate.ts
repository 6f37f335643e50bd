// Fails fast while the database is away. When a request finds PostgreSQL unreachable
// (refused connection, server shutting down, connection dropped), the gate closes:
// later requests get 503 DATABASE_UNAVAILABLE at once instead of each waiting for a
// connection timeout, and a probe checks every `probeIntervalMs` until the database
// answers again, then the gate opens. No restart needed.
import type { NextFunction, Request, Response } from 'express';
import type pg from 'pg';
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

  return {
    isOpen: () => open,
    report(error) {
      if (!open || !isDatabaseUnavailable(error)) return;
      open = false;
      logger.error({ err: error }, 'database unreachable; answering 503 until it is back');
      startProbing();
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
