// How many rows of a table the caller's tenant holds, for pricing what reads them all
// (row-prices.ts): `totalCount`, aggregates, filters that no index serves.
//
// Counted as the request itself, through the request's own connection and settings, so
// RLS restricts the count to the caller's tenant (nothing here names a tenant), and
// kept per (caller, table) for TTL_MS. The planner's estimate (pg_class.reltuples,
// EXPLAIN) cannot tell one tenant from another in a shared table: under RLS it sees
// `tenant_id = $1` and guesses the average tenant, 2,000 times too low for a tenant of
// 200,000 rows among 100-row ones. A count is exact and cheap for what it buys:
// measured 20-50 ms for 200,000 rows (an index-only scan of the tenant's part of the
// primary key), once a minute per table at most, and charged like any statement of the
// request. It stops at MAX_COUNTED rows: above that every priced read is refused anyway.
import type { WithPgClient } from '@dataplan/pg';
import pg from 'pg';

/** How long a tenant's count of a table is trusted. */
export const TTL_MS = 60_000;
/** Where counting stops: a tenant this large is refused any whole-table read long before. */
export const MAX_COUNTED = 1_000_000;
/**
 * The count's own statement timeout, whatever the request's: a count that cannot finish
 * in this time means a tenant (or a database) too busy to read, priced as MAX_COUNTED.
 */
export const COUNT_TIMEOUT_MS = 1_000;
/** Counts kept per process at most; the oldest go first. */
const MAX_ENTRIES = 10_000;

/** The rows of each table one request's tenant holds, loaded before they are read. */
export interface TableRows {
  /** Counts the tables not yet known (at most one statement per table). */
  load(tables: Iterable<string>): Promise<void>;
  /** A loaded table's rows; undefined if it was not loaded. */
  get(table: string): number | undefined;
}

class CountCancelled extends Error {}

interface Entry {
  rows: Promise<number>;
  expires: number;
}

const qualified = (table: string) =>
  table
    .split('.')
    .map((part) => pg.escapeIdentifier(part))
    .join('.');

export interface TableRowCounts {
  /** The counts of the caller `key` (the charged key: tenant, user or IP), read as `context`'s request. */
  forRequest(key: string, context: Grafast.Context): TableRows;
}

export function createTableRowCounts(now = () => Date.now()): TableRowCounts {
  const cache = new Map<string, Entry>();

  function count(context: Grafast.Context, table: string): Promise<number> {
    const { withPgClient, pgSettings } = context as unknown as {
      withPgClient: WithPgClient;
      pgSettings: Record<string, string | undefined> | null;
    };
    const settings = { ...pgSettings, statement_timeout: String(COUNT_TIMEOUT_MS) };
    return withPgClient(settings, async (client) => {
      // `select 1`, not an empty select list: Citus 13.2 plans `select from` on a
      // distributed table into an error ("a column definition list is required").
      const { rows } = await client.query<{ rows: number }>({
        text: `select count(*)::int as rows from (select 1 from ${qualified(table)} limit ${MAX_COUNTED}) counted`,
      });
      return rows[0]!.rows;
    }).catch((error: { code?: string }) => {
      // A table the caller may not read: the operation itself is refused the same way.
      if (error.code === '42501') return 0;
      // Cancelled by COUNT_TIMEOUT_MS: as dear as the most rows counted, this time; not
      // kept, so a moment of load does not price the tenant's next minute.
      if (error.code === '57014') throw new CountCancelled();
      throw error;
    });
  }

  return {
    forRequest(key, context) {
      const loaded = new Map<string, number>();
      return {
        async load(tables) {
          const pending: Array<Promise<void>> = [];
          for (const table of new Set(tables)) {
            if (loaded.has(table)) continue;
            const cacheKey = `${key}\u0000${table}`;
            let entry = cache.get(cacheKey);
            if (!entry || entry.expires <= now()) {
              if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
              entry = { rows: count(context, table), expires: now() + TTL_MS };
              cache.set(cacheKey, entry);
              // A failed count is not kept: the next request asks again.
              entry.rows.catch(() => cache.delete(cacheKey));
            }
            pending.push(
              entry.rows.then(
                (rows) => void loaded.set(table, rows),
                (error: unknown) => {
                  if (!(error instanceof CountCancelled)) throw error;
                  loaded.set(table, MAX_COUNTED);
                },
              ),
            );
          }
          await Promise.all(pending);
        },
        get: (table) => loaded.get(table),
      };
    },
  };
}
