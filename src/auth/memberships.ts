// Which tenant a user is a member of, by the tenant's id or its slug: the one place the
// API asks, and the one cache of the answers. A request's tenant (the token's claim or
// its X-Tenant choice) becomes its verified tenant here, and only here, once PostgreSQL
// has confirmed the membership by the same predicate as app_public.current_tenant_id()
// (app_private.member_tenant_id and member_tenant_id_by_slug, one call as the
// authenticator). A stranger's token naming tenant B is charged to the stranger, never
// to B; a stranger's slug selects nothing and reveals nothing.
//
// Answers are cached per (user, tenant id or slug) for `ttlSeconds`, so this costs a
// query only on the first request of a pair: a membership removed meanwhile keeps being
// *charged* to the tenant (and a slug keeps naming it) for at most that long. What a
// request may read is decided by RLS on every statement, never by this cache.
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import type { TenantChoice } from './tenant-choice.ts';

/** The id of the tenant `choice` names if `userId` is a member of it; undefined otherwise. */
export type MemberTenant = (userId: string, choice: TenantChoice) => Promise<string | undefined>;

/** As many answers as the two caches this one replaced kept together (slugs and ids, 50,000 each). */
const CACHED_ANSWERS = 100_000;

export function createMemberships(pool: pg.Pool, ttlSeconds: number): MemberTenant {
  // Concurrent first requests of a pair share one look-up (fetchMethod); '' stands for
  // "not a member", since the cache keeps no undefined.
  const answers = new LRUCache<string, string, { userId: string; choice: TenantChoice }>({
    max: CACHED_ANSWERS,
    ttl: ttlSeconds * 1000,
    fetchMethod: async (_key, _stale, { context: { userId, choice } }) => {
      const [sql, value] =
        'id' in choice
          ? ['select app_private.member_tenant_id($1, $2) as id', choice.id]
          : ['select app_private.member_tenant_id_by_slug($1, $2) as id', choice.slug];
      const { rows } = await pool.query<{ id: string | null }>(sql, [userId, value]);
      return rows[0]?.id ?? '';
    },
  });
  return async (userId, choice) => {
    // The key names the kind: an id and a slug of one user never share an answer.
    const key = 'id' in choice ? `${userId} id ${choice.id}` : `${userId} slug ${choice.slug}`;
    return (await answers.fetch(key, { context: { userId, choice } })) || undefined;
  };
}
