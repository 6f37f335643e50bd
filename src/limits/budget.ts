// Cost budgets: a token bucket per key (a verified tenant, else a user, else an IP) that
// holds up to `maxPoints` and regains `restoreRate` points every second, continuously.
// An operation takes its requested cost before it runs and gets back what it did not
// spend after (Shopify's leaky bucket, seen from the other side). Work measured after the
// fact beyond what was taken (database time, src/request/work.ts) is charged anyway: the
// bucket goes into debt, at most one bucket deep, and the next operations wait for it.
//
// Not rate-limiter-flexible, which the request-count limit used: it counts in fixed
// windows, so a bucket refills all at once at a window's end and a client can spend two
// buckets across one boundary. With REDIS_URL every API process shares the buckets (one
// atomic script, timed by the Redis server's clock); while Redis does not answer, each
// process keeps its own buckets in memory instead of letting everything through.
// ioredis is loaded only with REDIS_URL: most deployments never need it (6 MB).
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger.ts';

export interface BudgetOptions {
  /** Points a full bucket holds: the largest burst. */
  maxPoints: number;
  /** Points regained per second: the sustained rate. */
  restoreRate: number;
  redisUrl?: string | undefined;
  /** Keys in Redis start with this, so several deployments can share a server. */
  keyPrefix?: string;
}

/** What a client sees in `extensions.cost.throttleStatus`. */
export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface Budget {
  /** Takes `points` if the bucket holds them, else takes nothing; either way, its status after. */
  take(key: string, points: number): Promise<{ taken: boolean; status: ThrottleStatus }>;
  /** Gives back points taken but not spent. */
  refund(key: string, points: number): Promise<ThrottleStatus>;
  /** Takes `points` whatever the bucket holds, down to -maxPoints at most: work already done. */
  charge(key: string, points: number): Promise<ThrottleStatus>;
  close(): Promise<void>;
}

// Positive points take (only if there are enough, unless forced: then down to -max),
// negative points give back; the bucket never holds more than it can.
const BUCKET_SCRIPT = `
local max, rate, points, force = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'p', 't')
local available = tonumber(state[1]) or max
local at = tonumber(state[2]) or now
available = math.min(max, available + math.max(0, now - at) * rate)
local taken = 0
if force then
  available = math.max(-max, math.min(max, available - points))
  taken = 1
elseif points <= available then
  available = math.min(max, available - points)
  taken = 1
end
redis.call('HSET', KEYS[1], 'p', tostring(available), 't', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(2 * max / rate) + 1)
return {taken, tostring(available)}
`;

interface Bucket {
  available: number;
  at: number;
}

function memoryBuckets(options: BudgetOptions) {
  const { maxPoints: max, restoreRate: rate } = options;
  // A bucket left alone until it is full again is the same as no bucket: forget it then
  // (from a debt of a whole bucket, that takes twice as long).
  const buckets = new LRUCache<string, Bucket>({ max: 100_000, ttl: Math.ceil(((2 * max) / rate) * 1000) });
  return (key: string, points: number, force = false): [boolean, number] => {
    const now = performance.now() / 1000;
    const bucket = buckets.get(key) ?? { available: max, at: now };
    bucket.available = Math.min(max, bucket.available + Math.max(0, now - bucket.at) * rate);
    bucket.at = now;
    const taken = force || points <= bucket.available;
    if (taken) bucket.available = Math.max(-max, Math.min(max, bucket.available - points));
    buckets.set(key, bucket);
    return [taken, bucket.available];
  };
}

export function createBudget(options: BudgetOptions, logger: Logger): Budget {
  const { maxPoints, restoreRate } = options;
  const inMemory = memoryBuckets(options);
  let apply: (key: string, points: number, force?: boolean) => Promise<[boolean, number]> = async (
    key,
    points,
    force,
  ) => inMemory(key, points, force);
  let redis: Promise<Redis> | undefined;

  if (options.redisUrl) {
    const prefix = options.keyPrefix ?? 'tenantgraph:budget';
    const redisUrl = options.redisUrl;
    redis = import('ioredis').then(({ Redis }) => {
      // No offline queue: a request must not wait for Redis to come back.
      const client = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      client.defineCommand('bucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
      let warned = false;
      client.on('error', (error) => {
        if (warned) return;
        warned = true;
        logger.warn({ err: error }, 'budget store (Redis) unavailable; keeping budgets per process');
      });
      client.on('ready', () => (warned = false));
      return client;
    });
    const shared = redis as Promise<
      Redis & {
        bucket(
          key: string,
          max: number,
          rate: number,
          points: number,
          force: 0 | 1,
        ): Promise<[number, string]>;
      }
    >;
    apply = async (key, points, force = false) => {
      try {
        const [taken, available] = await (
          await shared
        ).bucket(`${prefix}:${key}`, maxPoints, restoreRate, points, force ? 1 : 0);
        return [taken === 1, Number(available)];
      } catch {
        return inMemory(key, points, force);
      }
    };
  }

  const status = (available: number): ThrottleStatus => ({
    maximumAvailable: maxPoints,
    currentlyAvailable: Math.floor(available),
    restoreRate,
  });
  return {
    async take(key, points) {
      const [taken, available] = await apply(key, points);
      return { taken, status: status(available) };
    },
    async refund(key, points) {
      const [, available] = await apply(key, -points);
      return status(available);
    },
    async charge(key, points) {
      const [, available] = await apply(key, points, true);
      return status(available);
    },
    async close() {
      (await redis)?.disconnect();
    },
  };
}
