// Why a request's credentials were refused, in a form clients can act on.
import type { ErrorCode } from '../errors/catalogue.ts';

export type AuthErrorCode = Extract<
  ErrorCode,
  | 'UNAUTHENTICATED' // no usable token: malformed, bad signature, wrong algorithm, issuer or audience
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'INVALID_CLAIMS' // verified, but `sub` or the tenant claim is missing or not a uuid
  | 'AUTH_PROVIDER_UNAVAILABLE' // the JWKS endpoint could not be reached
  | 'INVALID_TENANT' // an X-Tenant header that is neither a tenant id nor a slug
  | 'INVALID_API_KEY' // an API key that is unknown, revoked or expired
>;

export class AuthError extends Error {
  override name = 'AuthError';
  readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
