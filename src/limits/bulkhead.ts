// A bulkhead per key (tenant, user or IP): at most `perKey` of its operations execute at
// once in this process, however many requests it sends. A few more may wait in line,
// briefly; beyond that, or after waiting too long, the operation is refused at once.
// (The connections its statements hold are bounded apart, per statement, by
// src/request/work.ts: one operation's aliases run in parallel. The same lanes serve
// there, and for subscriptions' read slots.)

export interface ConcurrencyOptions {
  /** Operations of one key executing at once. */
  perKey: number;
  /** Operations of one key allowed to wait for a slot. */
  queue: number;
  /** Longest an operation waits for a slot. */
  queueTimeoutMs: number;
}

export class BulkheadFull extends Error {
  override name = 'BulkheadFull';
}

interface Lane {
  running: number;
  waiting: Array<(granted: boolean) => void>;
}

export interface Bulkhead {
  /** Resolves with a release function once the key has a free slot; rejects with BulkheadFull. */
  enter(key: string): Promise<() => void>;
}

export function createBulkhead(options: ConcurrencyOptions): Bulkhead {
  const lanes = new Map<string, Lane>();

  const leave = (key: string, lane: Lane) => {
    const next = lane.waiting.shift();
    if (next) return next(true); // the slot passes straight to the next in line
    lane.running -= 1;
    if (lane.running === 0) lanes.delete(key);
  };

  return {
    enter(key) {
      let lane = lanes.get(key);
      if (!lane) lanes.set(key, (lane = { running: 0, waiting: [] }));
      const release = once(() => leave(key, lane));
      if (lane.running < options.perKey) {
        lane.running += 1;
        return Promise.resolve(release);
      }
      if (lane.waiting.length >= options.queue) return Promise.reject(new BulkheadFull());
      return new Promise((resolve, reject) => {
        const ticket = (granted: boolean) => {
          clearTimeout(timer);
          if (granted) resolve(release);
          else reject(new BulkheadFull());
        };
        const timer = setTimeout(() => {
          lane.waiting.splice(lane.waiting.indexOf(ticket), 1);
          ticket(false);
        }, options.queueTimeoutMs);
        lane.waiting.push(ticket);
      });
    },
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
