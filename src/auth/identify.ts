// One place where a credential becomes an identity, for every transport: the HTTP
// middleware (authenticate.ts) and the websocket handshake (src/realtime/websocket.ts)
// both call `identify`, so no transport can run an operation as anyone but the identity
// verified here. The credential is a bearer JWT or an API key (api-keys.ts); the tenant
// choice (X-Tenant) applies to a JWT only (tenant-choice.ts).
import { identityFromClaims, type ClaimNames, type Identity } from './claims.ts';
import { AuthError } from './errors.ts';
import { API_KEY_PREFIX, type VerifyApiKey } from './api-keys.ts';
import type { ChooseTenant } from './tenant-choice.ts';
import type { VerifyToken } from './verify-token.ts';

export interface Credentials {
  /** The Authorization value, `Bearer <token or API key>`; undefined: anonymous. */
  authorization?: string | undefined;
  /** The X-Tenant choice: a tenant id or slug. */
  tenant?: string | undefined;
}

export interface Verified {
  /** null: no credential (anonymous). */
  identity: Identity | null;
  /** When the token stops being valid (ms since the epoch); undefined for an API key or anonymous. */
  expiresAt?: number;
}

/** Throws AuthError for a credential that is malformed, forged, expired or unknown. */
export type Identify = (credentials: Credentials) => Promise<Verified>;

export interface IdentifyOptions {
  verifyToken: VerifyToken;
  claimNames: ClaimNames;
  chooseTenant: ChooseTenant;
  verifyApiKey: VerifyApiKey;
}

export function createIdentify({
  verifyToken,
  claimNames,
  chooseTenant,
  verifyApiKey,
}: IdentifyOptions): Identify {
  return async ({ authorization, tenant }) => {
    if (authorization === undefined) return { identity: null };
    const match = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(authorization);
    if (!match) throw new AuthError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <token>`.');
    const credential = match[1]!;
    // A key fixes its tenant: X-Tenant does not apply to it.
    if (credential.startsWith(API_KEY_PREFIX)) return { identity: await verifyApiKey(credential) };
    const payload = await verifyToken(credential);
    const identity = identityFromClaims(payload, claimNames);
    if (typeof tenant === 'string' && tenant !== '') {
      const tenantId = await chooseTenant(identity.userId, tenant);
      if (tenantId) identity.tenantId = tenantId;
      else delete identity.tenantId;
    }
    // verifyToken refuses a token without exp.
    return { identity, expiresAt: payload.exp! * 1000 };
  };
}
