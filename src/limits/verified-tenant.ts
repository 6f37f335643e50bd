// Which tenant a request may be charged to and logged as: the token's tenant claim only
// once PostgreSQL has confirmed the user is a member of it, by the same predicate as
// app_public.current_tenant_id() (app_private.member_tenant_id, one call as the
// authenticator). A stranger's token naming tenant B is charged to the stranger, never
// to B.
//
// Answers are cached per (user, tenant) for `ttlSeconds`, so this costs a query only on
// the first request of a pair: a membership removed meanwhile keeps being *charged* to
// the tenant for at most that long. What a request may read is decided by RLS on every
// statement, never by this cache.
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import type { Identity } from '../auth/claims.ts';

export type VerifyTenant = (identity: Identity) => Promise<string | undefined>;

export function createTenantVerifier(pool: pg.Pool, ttlSeconds: number): VerifyTenant {
  // The empty string stands for "not a member" (LRUCache does not keep undefined).
  const verdicts = new LRUCache<string, string>({ max: 50_000, ttl: ttlSeconds * 1000 });
  const pending = new Map<string, Promise<string>>();

  const lookUp = async ({ userId, tenantId }: Identity) => {
    const { rows } = await pool.query<{ id: string | null }>('select app_private.member_tenant_id($1, $2) as id', [userId, tenantId]);
    return rows[0]?.id ?? '';
  };

  return async (identity) => {
    if (!identity.tenantId) return undefined;
    const key = `${identity.userId}:${identity.tenantId}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      // Concurrent first requests of a pair share one look-up.
      let lookup = pending.get(key);
      if (!lookup) {
        lookup = lookUp(identity).finally(() => pending.delete(key));
        pending.set(key, lookup);
      }
      verdict = await lookup;
      verdicts.set(key, verdict);
    }
    return verdict || undefined;
  };
}
