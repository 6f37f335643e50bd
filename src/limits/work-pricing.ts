// Operations are charged the work they made the database do, not only what they return.
//
// The estimate (cost.ts) prices what an operation returns; the database pays for what it
// reads, and the two differ by up to 10,000x (a `totalCount` over a filter no index
// serves, a list operator over thousands of values). So the adaptor measures how long
// each operation's transactions held their connections (src/request/work.ts), and the
// operation is charged the larger of its estimate and that time at DB_POINTS_PER_MS
// points per millisecond. At the default 10 points per millisecond, a tenant spending its
// whole restore rate (BUDGET_RESTORE_RATE, 500 points/s) holds at most 50 ms of database
// connection time per second per process: 5% of one connection, and of one core.
//
// The statement timeout follows the price (part of the same bargain): an operation's
// statements may run only as long as its caller could pay for, between
// MIN_STATEMENT_TIMEOUT_MS (ordinary queries are never cut) and STATEMENT_TIMEOUT_MS.
//
// Subscriptions pay per event: each event's re-read, as the subscriber, is charged to the
// subscriber's key when it has been rendered (meterSubscription), and a key in debt gets
// no more reads (src/realtime/subscriber.ts ends its subscriptions).
import type { ThrottleStatus } from './budget.ts';
import type { OperationWork } from '../request/work.ts';

export interface WorkPricing {
  /** Points per millisecond a connection was held for an operation (DB_POINTS_PER_MS). */
  pointsPerDatabaseMs: number;
  /** The longest any statement may run (STATEMENT_TIMEOUT_MS). */
  maxStatementMs: number;
  /** The shortest statement timeout an operation gets, however little it can pay (MIN_STATEMENT_TIMEOUT_MS). */
  minStatementMs: number;
}

/** Points for `databaseMs` of connection time. */
export function pointsForWork(databaseMs: number, pricing: WorkPricing): number {
  return Math.ceil(databaseMs * pricing.pointsPerDatabaseMs);
}

/** Milliseconds as reported in `extensions.cost.databaseMs`: to 0.1 ms. */
export function reportedMs(databaseMs: number): number {
  return Math.round(databaseMs * 10) / 10;
}

/**
 * The statement_timeout of an operation that reserved `reserved` points and left
 * `available` in its bucket: as long as it could pay for, within the bounds.
 */
export function statementTimeoutFor(pricing: WorkPricing, reserved: number, available: number): number {
  const affordable = Math.floor((reserved + Math.max(0, available)) / pricing.pointsPerDatabaseMs);
  return Math.min(pricing.maxStatementMs, Math.max(pricing.minStatementMs, affordable));
}

/**
 * A subscription's results, each charged the database time its rendering took (the
 * re-read as the subscriber) and reporting it in `extensions.cost`. Not an async
 * generator: a generator waiting for the next event would hold a client's `return`
 * (unsubscribe) until that event came; this passes it straight to the source.
 */
export function meterSubscription<T extends { extensions?: Record<string, unknown> }>(
  results: AsyncIterable<T>,
  work: OperationWork,
  pricing: WorkPricing,
  charge: ((key: string, points: number) => Promise<ThrottleStatus>) | undefined,
): AsyncIterableIterator<T> {
  const source = results[Symbol.asyncIterator]();
  let paidMs = work.databaseMs;
  const metered: AsyncIterableIterator<T> = {
    async next() {
      const step = await source.next();
      if (step.done) return step;
      const databaseMs = work.databaseMs - paidMs;
      paidMs = work.databaseMs;
      // An event that read nothing (SUBSCRIBED, a deleted row's id) costs nothing and says nothing.
      if (databaseMs === 0) return step;
      const points = pointsForWork(databaseMs, pricing);
      const throttleStatus = points > 0 ? await charge?.(work.key, points) : undefined;
      const cost = {
        actualQueryCost: points,
        databaseMs: reportedMs(databaseMs),
        ...(throttleStatus && { throttleStatus }),
      };
      return { done: false, value: { ...step.value, extensions: { ...step.value.extensions, cost } } };
    },
    return: (value?: unknown) =>
      source.return ? source.return(value) : Promise.resolve({ done: true, value: undefined }),
    throw: (error?: unknown) => (source.throw ? source.throw(error) : Promise.reject(error)),
    [Symbol.asyncIterator]: () => metered,
  };
  return metered;
}
