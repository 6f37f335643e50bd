// What one operation's statements take from PostgreSQL, measured where they run, and how
// many pool connections one caller may hold.
//
// - Connections are the bulkhead. grafast runs an operation's sibling root fields in
//   parallel, each through its own withPgClient (one pool connection each): 15 aliases
//   took 9 of 10 connections. Every connection the API takes for a caller goes through
//   `ConnectionShares.connect` with the caller's key (the verified tenant, else the user,
//   else the IP, as the limits plugin charges it), and one key holds at most
//   TENANT_CONNECTIONS at once in this process: its parallel statements queue inside its
//   share, and the rest of the pool stays for the others.
// - A busy pool is not a dead database: a pool-acquire timeout becomes DatabaseBusy (503
//   DATABASE_BUSY for that request alone), never the gate's DATABASE_UNAVAILABLE.
// - The work done is measured: the adaptor times how long each of the operation's
//   transactions held its connection (from `begin` to `commit`) and adds it to the
//   operation's `OperationWork`, which the limits plugin charges after execution. The
//   record travels on the request's pgSettings object, the one thing the adaptor is
//   given, in a WeakMap: it is never sent as a setting, and dies with the request.
import type pg from 'pg';
import { createBulkhead, BulkheadFull } from '../limits/bulkhead.ts';

/** The database work of one operation (or one subscription), charged to `key`. */
export interface OperationWork {
  /** Who pays: the limits plugin's key (`tenant:…`, `user:…`, `ip:…`). */
  readonly key: string;
  /** Milliseconds its transactions held a connection, summed over parallel ones. */
  databaseMs: number;
}

const works = new WeakMap<object, OperationWork>();

/** Ties `work` to the request's pgSettings object, where the adaptor finds it. */
export function attachWork(pgSettings: object, work: OperationWork): void {
  works.set(pgSettings, work);
}

export function workOf(pgSettings: object | null | undefined): OperationWork | undefined {
  return pgSettings ? works.get(pgSettings) : undefined;
}

const QUERY_CANCELED = '57014';

/** A statement cancelled by statement_timeout spent the whole timeout: it is charged in full. */
export function heldMs(startedAt: number, error: unknown, statementTimeoutMs: number | undefined): number {
  const held = performance.now() - startedAt;
  const cancelled = (error as { code?: unknown } | undefined)?.code === QUERY_CANCELED;
  return cancelled && statementTimeoutMs !== undefined ? Math.max(held, statementTimeoutMs) : held;
}

/** No connection for this request in time: its key's share or the whole pool stayed busy. */
export class DatabaseBusy extends Error {
  override name = 'DatabaseBusy';
  readonly code = 'DATABASE_BUSY';
}

const POOL_TIMEOUT = /timeout exceeded when trying to connect/;

/** A pool-acquire timeout (ours or pg-pool's own words): busy, not unreachable. */
export function isDatabaseBusy(error: unknown): boolean {
  if (error instanceof DatabaseBusy) return true;
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && POOL_TIMEOUT.test(message);
}

export interface ConnectionShares {
  /**
   * A connection of `pool` within `key`'s share: waits in the key's line, then for the
   * pool. Rejects with DatabaseBusy when either wait runs out. Release it with `release`.
   * Without a key (no operation to charge: the schema's introspection), the pool's alone.
   */
  connect(pool: pg.Pool, key: string | undefined): Promise<pg.PoolClient>;
  /** Connections held or awaited per key, for tests and metrics. */
  holding(key: string): number;
}

export interface ConnectionSharesOptions {
  /** Connections one key may hold at once (TENANT_CONNECTIONS). */
  perKey: number;
  /** Longest a statement waits in its key's line before DATABASE_BUSY. */
  queueTimeoutMs: number;
}

/**
 * Opening a new connection took longer than DATABASE_CONNECT_TIMEOUT_MS: on a loaded
 * machine PostgreSQL can take that long to start a backend, so it says the server is
 * slow, not that it is away (the gate confirms that on a connection of its own).
 */
export function isConnectTimeout(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (
    code === 'ETIMEDOUT' ||
    (typeof message === 'string' && /Connection terminated due to connection timeout/.test(message))
  );
}

/**
 * A connection of the pool. Its acquire timeout, or a new connection's connect timeout, is
 * a DatabaseBusy for this request; the latter keeps its cause, which the error masking
 * reports to the database gate.
 */
function connectPool(pool: pg.Pool): Promise<pg.PoolClient> {
  return pool.connect().catch((error: unknown) => {
    if (isDatabaseBusy(error))
      throw new DatabaseBusy('Every database connection of this API process stayed busy.');
    if (isConnectTimeout(error))
      throw new DatabaseBusy('Opening a database connection took too long.', { cause: error });
    throw error;
  });
}

export function createConnectionShares(options: ConnectionSharesOptions): ConnectionShares {
  // The operation bulkhead's lanes, with an unbounded line: how many of a key's statements
  // wait is bounded by its operations (TENANT_CONCURRENCY) and subscriptions' read slots.
  const lanes = createBulkhead({
    perKey: options.perKey,
    queue: Infinity,
    queueTimeoutMs: options.queueTimeoutMs,
  });
  const held = new Map<string, number>();
  const count = (key: string, by: number) => {
    const next = (held.get(key) ?? 0) + by;
    if (next > 0) held.set(key, next);
    else held.delete(key);
  };
  return {
    async connect(pool, key) {
      if (key === undefined) return connectPool(pool);
      let leave: () => void;
      try {
        leave = await lanes.enter(key);
      } catch (error) {
        if (error instanceof BulkheadFull)
          throw new DatabaseBusy(
            `This tenant's ${options.perKey} database connections (TENANT_CONNECTIONS) stayed busy with its other statements.`,
          );
        throw error;
      }
      count(key, 1);
      let client: pg.PoolClient;
      try {
        client = await connectPool(pool);
      } catch (error) {
        count(key, -1);
        leave();
        throw error;
      }
      const release = client.release.bind(client);
      let released = false;
      client.release = (err?: Error | boolean) => {
        client.release = release;
        if (!released) {
          released = true;
          count(key, -1);
          leave();
        }
        return release(err);
      };
      return client;
    },
    holding: (key) => held.get(key) ?? 0,
  };
}
