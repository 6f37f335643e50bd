// Development tokens, signed with the development HS256 secret. Never in production:
// there, tokens come from the identity provider.
import jwt from 'jsonwebtoken';

export interface DevTokenClaims {
  userId: string;
  tenantId?: string | undefined;
  email?: string | undefined;
  /** Whether the identity provider (here: you) vouches for the email. */
  emailVerified?: boolean | undefined;
}

export interface MintOptions {
  /** JWT_TENANT_CLAIM: the claim the verifier reads the tenant from. */
  tenantClaim: string;
  expiresIn?: jwt.SignOptions['expiresIn'];
  /** JWT_ISSUER and JWT_AUDIENCE, when the verifier checks them. */
  issuer?: string | undefined;
  audience?: string | undefined;
}

export function mintDevToken(secret: string, claims: DevTokenClaims, options: MintOptions): string {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('Refusing to mint development tokens when NODE_ENV=production.');
  }
  return jwt.sign(
    {
      ...(claims.tenantId && { [options.tenantClaim]: claims.tenantId }),
      ...(claims.email && { email: claims.email, email_verified: claims.emailVerified ?? false }),
    },
    secret,
    {
      algorithm: 'HS256',
      subject: claims.userId,
      expiresIn: options.expiresIn ?? '12h',
      ...(options.issuer && { issuer: options.issuer }),
      ...(options.audience && { audience: options.audience }),
    },
  );
}
