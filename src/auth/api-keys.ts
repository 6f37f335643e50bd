// API keys: `Authorization: Bearer tgk_…`, a tenant's credential for its scripts and
// integrations (app_public.api_keys). A key is verified by its SHA-256 against the
// database (app_private.api_key_by_secret_hash, as the authenticator), and the answer is
// cached for `ttlSeconds`, so a key costs a database round trip once per cache period,
// not per request: a revoked key stops working within that bound. Unknown, revoked and
// expired keys take the same path and get the same answer, so their timing tells them
// apart no more than their words do. The key itself is never logged or kept.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { AuthError } from './errors.ts';

export const API_KEY_PREFIX = 'tgk_';

/** What a key is: its id, and the tenant it belongs to (its verified tenant). */
export interface ApiKeyVerdict {
  apiKeyId: string;
  tenantId: string;
}

export type VerifyApiKey = (key: string) => Promise<ApiKeyVerdict>;

export function createApiKeyVerifier(pool: pg.Pool, ttlSeconds: number): VerifyApiKey {
  // Keyed by the hash, never the key; '' stands for "no usable key".
  const verdicts = new LRUCache<string, ApiKeyVerdict | ''>({
    max: 10_000,
    ttl: ttlSeconds * 1000,
    fetchMethod: async (hash) => {
      const { rows } = await pool.query<{ tenant_id: string; api_key_id: string }>(
        'select tenant_id, api_key_id from app_private.api_key_by_secret_hash($1)',
        [Buffer.from(hash, 'hex')],
      );
      return rows[0] ? { apiKeyId: rows[0].api_key_id, tenantId: rows[0].tenant_id } : '';
    },
  });
  return async (key) => {
    const verdict = await verdicts.fetch(createHash('sha256').update(key).digest('hex'));
    if (!verdict) throw new AuthError('INVALID_API_KEY', 'This API key is unknown, revoked or expired.');
    return { ...verdict };
  };
}
