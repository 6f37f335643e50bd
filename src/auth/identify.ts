// One place where a credential becomes an identity, for every transport: the HTTP
// middleware (authenticate.ts) and the websocket handshake (src/realtime/websocket.ts)
// both call `identify`, so no transport can run an operation as anyone but the identity
// verified here. The credential is a bearer JWT or an API key (api-keys.ts); the tenant
// choice (X-Tenant) applies to a JWT only (tenant-choice.ts).
//
// The identity includes the verified tenant (memberships.ts, or the key's own), so it is
// resolved once per request, with one cache, and handed on frozen: budgets, connection
// shares, logs, metrics and pgSettings all read this object and derive nothing again.
import type pg from 'pg';
import { claimsOf, type ClaimNames, type Identity } from './claims.ts';
import { AuthError } from './errors.ts';
import { API_KEY_PREFIX, createApiKeyVerifier } from './api-keys.ts';
import { createMemberships } from './memberships.ts';
import { tenantChoiceOf } from './tenant-choice.ts';
import type { VerifyToken } from './verify-token.ts';

export interface Credentials {
  /** The Authorization value, `Bearer <token or API key>`; undefined: anonymous. */
  authorization?: string | undefined;
  /** The X-Tenant choice: a tenant id or slug. */
  tenant?: string | undefined;
}

export interface Verified {
  /** null: no credential (anonymous). Frozen. */
  identity: Identity | null;
  /** When the token stops being valid (ms since the epoch); undefined for an API key or anonymous. */
  expiresAt?: number;
}

/**
 * Throws AuthError for a credential that is malformed, forged, expired or unknown, and
 * the database's own error when a look-up (a key, a membership) finds no connection.
 */
export type Identify = (credentials: Credentials) => Promise<Verified>;

/**
 * The same identity with its membership looked up again (through the same cache): a
 * websocket's identity outlives the requests of HTTP, and a membership removed meanwhile
 * must stop being honoured on it as soon as on HTTP. Its claims are the handshake's.
 */
export type Reverify = (identity: Identity) => Promise<Identity>;

export interface Identities {
  identify: Identify;
  reverify: Reverify;
}

export interface IdentitiesOptions {
  /** The authenticator's pool: API keys and memberships are looked up with it. */
  pool: pg.Pool;
  verifyToken: VerifyToken;
  claimNames: ClaimNames;
  /** How long a verified membership (and a slug's tenant) is trusted for budgets and logs. */
  membershipCacheSeconds: number;
  /** How long a verified API key is trusted: a revocation takes effect within it. */
  apiKeyCacheSeconds: number;
}

export function createIdentities(options: IdentitiesOptions): Identities {
  const { verifyToken, claimNames } = options;
  const verifyApiKey = createApiKeyVerifier(options.pool, options.apiKeyCacheSeconds);
  const memberTenant = createMemberships(options.pool, options.membershipCacheSeconds);

  const identify: Identify = async ({ authorization, tenant }) => {
    if (authorization === undefined) return { identity: null };
    const match = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(authorization);
    if (!match) throw new AuthError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <token>`.');
    const credential = match[1]!;
    // A key fixes its tenant, verified with the key itself: X-Tenant does not apply to it.
    if (credential.startsWith(API_KEY_PREFIX)) {
      const { apiKeyId, tenantId } = await verifyApiKey(credential);
      return { identity: Object.freeze({ apiKeyId, tenantId, verifiedTenantId: tenantId }) };
    }
    const payload = await verifyToken(credential);
    const { userId, tenantId: claimed, email } = claimsOf(payload, claimNames);
    const choice = typeof tenant === 'string' && tenant !== '' ? tenantChoiceOf(tenant) : undefined;
    const verifiedTenantId = await (choice
      ? memberTenant(userId, choice)
      : claimed && memberTenant(userId, { id: claimed }));
    // A slug that is none of the user's tenants chooses no tenant at all; an id is PostgreSQL's to refuse.
    const tenantId = choice ? ('id' in choice ? choice.id : verifiedTenantId) : claimed;
    const identity: Identity = Object.freeze({
      userId,
      ...(tenantId && { tenantId }),
      ...(verifiedTenantId && { verifiedTenantId }),
      ...(email && { email }),
    });
    // verifyToken refuses a token without exp.
    return { identity, expiresAt: payload.exp! * 1000 };
  };

  const reverify: Reverify = async (identity) => {
    // A key's tenant is its own; the key itself is verified again on its own clock (websocket.ts).
    if (identity.apiKeyId || !identity.userId || !identity.tenantId) return identity;
    const verifiedTenantId = await memberTenant(identity.userId, { id: identity.tenantId });
    if (verifiedTenantId === identity.verifiedTenantId) return identity;
    const { userId, tenantId, email } = identity;
    return Object.freeze({
      userId,
      tenantId,
      ...(verifiedTenantId && { verifiedTenantId }),
      ...(email && { email }),
    });
  };

  return { identify, reverify };
}
