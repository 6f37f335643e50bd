// From verified claims to the transaction-local settings each request runs with.
// The role is chosen here, never read from the token.
import type jwt from 'jsonwebtoken';
import { AuthError } from './errors.ts';

export interface Identity {
  /** The token's `sub`; absent for an API key, which is not a person. */
  userId?: string;
  /** The API key a request came with (api-keys.ts); it fixes the tenant and the role. */
  apiKeyId?: string;
  /** Absent for a signed-in user who has not picked a tenant (e.g. right after signup). */
  tenantId?: string;
  /** Only an address the identity provider says it verified. */
  email?: string;
}

export interface ClaimNames {
  /** The claim naming the tenant (JWT_TENANT_CLAIM): a name, a namespaced URL or a dotted path. */
  tenant: string;
  /** The claim holding the user's email (JWT_EMAIL_CLAIM). */
  email: string;
  /** The claim saying the email was verified (OpenID Connect's `email_verified`). */
  emailVerified: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

// An exact claim name first (namespaced claims such as https://example.com/tenant_id
// contain dots), then a dotted path into nested claims (app_metadata.tenant_id).
function claim(payload: jwt.JwtPayload, name: string): unknown {
  if (name in payload) return payload[name];
  return name
    .split('.')
    .reduce<unknown>(
      (value, key) =>
        value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined,
      payload,
    );
}

/**
 * OpenID Connect says `email_verified` is a boolean, and most providers send `true`; AWS
 * Cognito sends every attribute as a string (`"true"`), so the exact string `"true"` counts
 * too. Nothing else does (`"True"`, `"1"`, `1`, `"yes"`): a provider that writes those is
 * not one we have seen, and guessing in the direction of "verified" is what an attacker
 * needs.
 */
export function isVerified(value: unknown): boolean {
  return value === true || value === 'true';
}

export function identityFromClaims(
  payload: jwt.JwtPayload,
  names: ClaimNames,
): Identity & { userId: string } {
  const userId = payload.sub;
  if (typeof userId !== 'string' || !UUID.test(userId)) {
    throw new AuthError('INVALID_CLAIMS', "The token's `sub` claim must be the user's uuid.");
  }
  const identity: Identity & { userId: string } = { userId: userId.toLowerCase() };
  const tenantId = claim(payload, names.tenant);
  if (tenantId !== undefined && tenantId !== null) {
    if (typeof tenantId !== 'string' || !UUID.test(tenantId)) {
      throw new AuthError('INVALID_CLAIMS', `The token's \`${names.tenant}\` claim must be a tenant uuid.`);
    }
    identity.tenantId = tenantId.toLowerCase();
  }
  // An unverified address is no address: whoever typed it into a sign-up form first
  // could otherwise claim it, and accept invitations sent to it.
  const email = claim(payload, names.email);
  if (typeof email === 'string' && EMAIL.test(email) && isVerified(claim(payload, names.emailVerified)))
    identity.email = email;
  return identity;
}

export interface RequestRoles {
  /** The role of a request with a verified identity (DATABASE_VISITOR). */
  visitor: string;
  /** The role of a request without one (DATABASE_ANONYMOUS). */
  anonymous: string;
}

export function pgSettingsFor(
  identity: Identity | null | undefined,
  roles: RequestRoles,
): Record<string, string> {
  if (!identity) return { role: roles.anonymous };
  return {
    role: roles.visitor,
    ...(identity.userId && { 'app.current_user_id': identity.userId }),
    ...(identity.apiKeyId && { 'app.current_api_key_id': identity.apiKeyId }),
    ...(identity.tenantId && { 'app.current_tenant_id': identity.tenantId }),
    ...(identity.email && { 'app.current_user_email': identity.email }),
  };
}
