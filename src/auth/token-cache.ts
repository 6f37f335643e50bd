// Verified tokens, remembered: a client sends the same JWT with every request until it
// expires, and verifying it again (decode, HMAC or RSA/ECDSA, JSON) cost 8% of the API's
// CPU per list request (interleaved A/B, bench/README.md). Only a successful verification is kept, keyed by the whole token
// string (the same string verifies to the same claims), and only while it would still
// verify: until `exp` plus the clock tolerance, and never longer than `maxAgeSeconds`, so
// a signing key withdrawn from a JWKS stops being honoured within that bound, as the
// JWKS client's own key cache already allows. A failure is never cached: every forged or
// expired token is checked in full, and cannot push out the tokens of other callers
// more than any request could.
import { LRUCache } from 'lru-cache';
import type { JwtPayload } from 'jsonwebtoken';

/** verify-token.ts's VerifyToken, spelled out here so the cache does not import its user back. */
type VerifyToken = (token: string) => Promise<JwtPayload>;

export interface TokenCacheOptions {
  /** Tokens kept at most (each about 1 KB). */
  max: number;
  maxAgeSeconds: number;
  clockToleranceSeconds: number;
}

export function cachedTokenVerifier(verify: VerifyToken, options: TokenCacheOptions): VerifyToken {
  const verified = new LRUCache<string, Readonly<JwtPayload>>({ max: options.max, ttlAutopurge: false });
  return async (token) => {
    const known = verified.get(token);
    if (known) return known;
    const payload = Object.freeze(await verify(token));
    // verify refuses a token without exp.
    const validForMs = (payload.exp! + options.clockToleranceSeconds) * 1000 - Date.now();
    const ttl = Math.min(validForMs, options.maxAgeSeconds * 1000);
    if (ttl >= 1000) verified.set(token, payload, { ttl: Math.floor(ttl) });
    return payload;
  };
}
