// Tenant switching: a signed-in user picks the tenant of each request with an
// `X-Tenant` header (a tenant id or slug); without it, the token's tenant claim applies.
// The choice is only a request: PostgreSQL verifies it exactly as it verifies a claim
// (current_tenant_id() selects nothing for a non-member), and budgets and logs use only
// the verified tenant. A slug is turned into an id among the user's own memberships
// (app_private.member_tenant_id_by_slug), so a stranger's slug selects nothing and
// reveals nothing; answers are cached briefly, as memberships are for budgets.
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { CATALOGUE } from '../errors/catalogue.ts';
import { AuthError } from './errors.ts';

export const TENANT_HEADER = 'x-tenant';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The tenant id a request asks for with its X-Tenant header; undefined for a slug that is none of the user's. */
export type ChooseTenant = (userId: string, header: string) => Promise<string | undefined>;

export function createTenantChoice(pool: pg.Pool, ttlSeconds: number): ChooseTenant {
  const slugs = new LRUCache<string, string, { userId: string; slug: string }>({
    max: 50_000,
    ttl: ttlSeconds * 1000,
    fetchMethod: async (_key, _stale, { context: { userId, slug } }) => {
      const { rows } = await pool.query<{ id: string | null }>(
        'select app_private.member_tenant_id_by_slug($1, $2) as id',
        [userId, slug],
      );
      return rows[0]?.id ?? '';
    },
  });
  return async (userId, header) => {
    const value = header.trim();
    if (UUID.test(value)) return value.toLowerCase();
    if (!SLUG.test(value)) throw new AuthError('INVALID_TENANT', CATALOGUE.INVALID_TENANT.message);
    return (await slugs.fetch(`${userId}:${value}`, { context: { userId, slug: value } })) || undefined;
  };
}
