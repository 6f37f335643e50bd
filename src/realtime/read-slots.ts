// The process's read slots for subscription events: `readConcurrency` of them, each a pool
// connection reading one event's row as its subscriber. One key's events (a tenant's, a
// user's) hold at most `perKey` of them at once and wait in their own line beyond that,
// so another key's event waits behind at most `perKey` of theirs, not behind a burst of
// a thousand. A key whose budget is in debt gets no slot (its subscriptions end:
// subscriber.ts): its reads are not free.
import type { Budget } from '../limits/budget.ts';
import { createBulkhead } from '../limits/bulkhead.ts';

export interface ReadSlotOptions {
  /** Events read at once in this process (SUBSCRIPTION_READ_CONCURRENCY). */
  readConcurrency: number;
  /** Of them, one key's at most (TENANT_CONNECTIONS, within readConcurrency). */
  perKey: number;
  /** null: no budgets, every key may read. */
  budget: Budget | null;
}

/** A slot for an event of `key`'s (a release function), or undefined when the key's budget is spent. */
export type ReadSlot = (key: string) => Promise<(() => void) | undefined>;

export function createReadSlots(options: ReadSlotOptions): ReadSlot {
  // Events wait for a slot as long as it takes: the buffer behind them is bounded (SUBSCRIPTION_BUFFER).
  const forever = { queue: Infinity, queueTimeoutMs: 2 ** 31 - 1 };
  const all = createBulkhead({ perKey: options.readConcurrency, ...forever });
  const perKey = createBulkhead({
    perKey: Math.max(1, Math.min(options.readConcurrency, options.perKey)),
    ...forever,
  });
  return async (key) => {
    if (options.budget && !(await options.budget.take(key, 0)).taken) return undefined;
    const leaveKey = await perKey.enter(key);
    const leaveAll = await all.enter('subscription events');
    return () => {
      leaveAll();
      leaveKey();
    };
  };
}
