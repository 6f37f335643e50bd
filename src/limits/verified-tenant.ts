// Which tenant a request may be charged to and logged as: the tenant it asks for only
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
  // Concurrent first requests of a pair share one look-up (fetchMethod); '' stands for
  // "not a member", since the cache keeps no undefined.
  const verdicts = new LRUCache<string, string, Identity>({
    max: 50_000,
    ttl: ttlSeconds * 1000,
    fetchMethod: async (_key, _stale, { context: { userId, tenantId } }) => {
      const { rows } = await pool.query<{ id: string | null }>(
        'select app_private.member_tenant_id($1, $2) as id',
        [userId, tenantId],
      );
      return rows[0]?.id ?? '';
    },
  });
  return async (identity) => {
    if (!identity.tenantId) return undefined;
    // A key's tenant was verified with the key itself.
    if (identity.apiKeyId) return identity.tenantId;
    return (
      (await verdicts.fetch(`${identity.userId}:${identity.tenantId}`, { context: identity })) || undefined
    );
  };
}
