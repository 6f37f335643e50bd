// Per-tenant usage over the last minutes, in the spirit of Citus' citus_stat_tenants: a
// rolling window of one-minute buckets holding, for each tenant that was active, its
// requests, the cost points it consumed, the time its requests held a database
// connection, and its requests that ended with an error. Operators read the top of it
// (the admin endpoint, `npm run tenants:top`); tenants never do. It is kept per process.
//
// Tenant ids are never metric labels (thousands of tenants would be thousands of
// series): the metrics get only the largest tenant's share of each resource (shares()),
// enough to alert on one tenant taking over, with no id in it.

/** Requests without a verified tenant: anonymous, or a user acting in no tenant of theirs. */
export const NO_TENANT = '(no tenant)';
/** Tenants beyond a bucket's capacity, summed. */
export const OTHER_TENANTS = '(other tenants)';

export const RESOURCES = ['requests', 'costPoints', 'databaseMs', 'errors'] as const;
export type Resource = (typeof RESOURCES)[number];

export type Usage = Record<Resource, number>;

export interface TenantUsage extends Usage {
  tenantId: string;
}

export interface TopView {
  /** The window asked for, in seconds, and when it began (ISO 8601). */
  windowSeconds: number;
  since: string;
  /** The whole process over the window, every tenant and NO_TENANT included. */
  totals: Usage & { tenants: number };
  /** The largest tenants by `by`, largest first, each with its share of the totals (and, from the admin endpoint, its slug: null for a tenant gone since, or a label). */
  tenants: Array<TenantUsage & { share: Usage; slug?: string | null }>;
  by: Resource;
}

export interface UsageTopOptions {
  /** Minutes kept; the longest window that can be asked for. */
  minutes?: number;
  /** Tenants tracked per minute; more are summed as OTHER_TENANTS. */
  maxTenantsPerMinute?: number;
  now?: () => number;
}

interface Bucket {
  minute: number;
  tenants: Map<string, Usage>;
}

const empty = (): Usage => ({ requests: 0, costPoints: 0, databaseMs: 0, errors: 0 });

function add(into: Usage, from: Usage): void {
  for (const resource of RESOURCES) into[resource] += from[resource];
}

export interface UsageTop {
  record(tenantId: string | undefined, usage: Usage): void;
  top(options?: { minutes?: number; limit?: number; by?: Resource }): TopView;
  /** The largest single tenant's share of each resource over the window (0 without traffic). */
  shares(minutes?: number): Usage & { tenants: number };
  minutes: number;
}

export function createUsageTop({
  minutes = 15,
  maxTenantsPerMinute = 10_000,
  now = Date.now,
}: UsageTopOptions = {}): UsageTop {
  const buckets: Bucket[] = [];

  function current(): Bucket {
    const minute = Math.floor(now() / 60_000);
    let bucket = buckets.at(-1);
    if (bucket?.minute !== minute) {
      bucket = { minute, tenants: new Map() };
      buckets.push(bucket);
      while (buckets.length > 0 && buckets[0]!.minute <= minute - minutes) buckets.shift();
    }
    return bucket;
  }

  /** Every tenant's usage over the last `window` minutes, the current one included. */
  function merged(window: number): { tenants: Map<string, Usage>; since: number } {
    const latest = Math.floor(now() / 60_000);
    const first = latest - Math.min(Math.max(1, window), minutes) + 1;
    const tenants = new Map<string, Usage>();
    for (const bucket of buckets) {
      if (bucket.minute < first) continue;
      for (const [tenantId, usage] of bucket.tenants) {
        let sum = tenants.get(tenantId);
        if (!sum) tenants.set(tenantId, (sum = empty()));
        add(sum, usage);
      }
    }
    return { tenants, since: first * 60_000 };
  }

  function totalsOf(tenants: Map<string, Usage>): Usage & { tenants: number } {
    const totals = { ...empty(), tenants: 0 };
    for (const [tenantId, usage] of tenants) {
      add(totals, usage);
      if (tenantId !== NO_TENANT && tenantId !== OTHER_TENANTS) totals.tenants++;
    }
    return totals;
  }

  return {
    minutes,
    record(tenantId, usage) {
      const bucket = current();
      let key = tenantId ?? NO_TENANT;
      if (!bucket.tenants.has(key) && bucket.tenants.size >= maxTenantsPerMinute) key = OTHER_TENANTS;
      let sum = bucket.tenants.get(key);
      if (!sum) bucket.tenants.set(key, (sum = empty()));
      add(sum, usage);
    },
    top({ minutes: window = 5, limit = 10, by = 'costPoints' } = {}) {
      const { tenants, since } = merged(window);
      const totals = totalsOf(tenants);
      const ranked = [...tenants]
        .filter(([tenantId]) => tenantId !== NO_TENANT && tenantId !== OTHER_TENANTS)
        .sort(([, a], [, b]) => b[by] - a[by] || b.requests - a.requests)
        .slice(0, limit)
        .map(([tenantId, usage]) => ({
          tenantId,
          ...usage,
          databaseMs: Math.round(usage.databaseMs),
          share: Object.fromEntries(
            RESOURCES.map((resource) => [
              resource,
              totals[resource] > 0 ? Math.round((usage[resource] / totals[resource]) * 1000) / 1000 : 0,
            ]),
          ) as Usage,
        }));
      return {
        windowSeconds: (Math.floor(now() / 60_000) * 60_000 + 60_000 - since) / 1000,
        since: new Date(since).toISOString(),
        totals: { ...totals, databaseMs: Math.round(totals.databaseMs) },
        tenants: ranked,
        by,
      };
    },
    shares(window = 5) {
      const { tenants } = merged(window);
      const totals = totalsOf(tenants);
      const largest = empty();
      for (const [tenantId, usage] of tenants) {
        if (tenantId === NO_TENANT || tenantId === OTHER_TENANTS) continue;
        for (const resource of RESOURCES)
          largest[resource] = Math.max(
            largest[resource],
            totals[resource] > 0 ? usage[resource] / totals[resource] : 0,
          );
      }
      return { ...largest, tenants: totals.tenants };
    },
  };
}
