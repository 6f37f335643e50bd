// Per-tenant rate limiting (rate-limiter-flexible), keyed by the verified tenant claim,
// not the IP: one tenant's burst cannot spend another's budget, and a tenant behind a
// shared NAT is not throttled as one. A signed-in user without a tenant is keyed by
// user, an anonymous request by IP. With REDIS_URL, every API process shares one
// budget; if Redis stops answering, an in-memory limiter takes over per process.
import type { NextFunction, Request, Response } from 'express';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../logger.ts';

export interface RateLimitOptions {
  /** Requests allowed per key per window. */
  points: number;
  windowSeconds: number;
  redisUrl?: string | undefined;
  /** Keys in Redis start with this, so several deployments can share a server. */
  keyPrefix?: string;
}

export interface RateLimit {
  middleware: (req: Request, res: Response, next: NextFunction) => void;
  close(): Promise<void>;
}

export function rateLimitKey(req: Request, res: Response): string {
  const identity = res.locals.identity;
  if (identity?.tenantId) return `tenant:${identity.tenantId}`;
  if (identity) return `user:${identity.userId}`;
  return `ip:${req.ip}`;
}

export function createRateLimit(options: RateLimitOptions, logger: Logger): RateLimit {
  const base = { points: options.points, duration: options.windowSeconds, keyPrefix: options.keyPrefix ?? 'tenantgraph:rl' };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  if (options.redisUrl) {
    // No offline queue: a request must not wait for Redis to come back.
    redis = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', (error) => logger.warn({ err: error }, 'rate limit store (Redis) unavailable; limiting per process'));
    limiter = new RateLimiterRedis({ ...base, storeClient: redis, insuranceLimiter: new RateLimiterMemory(base) });
  } else {
    limiter = new RateLimiterMemory(base);
  }

  return {
    middleware(req, res, next) {
      limiter.consume(rateLimitKey(req, res)).then(
        (result) => {
          res.setHeader('RateLimit-Limit', options.points);
          res.setHeader('RateLimit-Remaining', result.remainingPoints);
          next();
        },
        (rejection: unknown) => {
          if (!(rejection instanceof RateLimiterRes)) return next(rejection);
          const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
          res.setHeader('Retry-After', retryAfter);
          res.status(429).json({
            errors: [{ message: `Too many requests for this tenant; retry in ${retryAfter} s.`, extensions: { code: 'RATE_LIMITED', retryAfter } }],
          });
        },
      );
    },
    async close() {
      redis?.disconnect();
    },
  };
}
