// Express middleware on the GraphQL path: verifies the bearer credential first (a JWT,
// or an API key: api-keys.ts), so a bad one is answered with 401 here, before any
// GraphQL work and without a stack trace; then applies the request's tenant choice
// (X-Tenant, tenant-choice.ts).
import type { NextFunction, Request, Response } from 'express';
import { CATALOGUE, sendError } from '../errors/catalogue.ts';
import type { Usage } from '../limits/plugin.ts';
import { identityFromClaims, type ClaimNames, type Identity } from './claims.ts';
import { AuthError } from './errors.ts';
import { API_KEY_PREFIX, type VerifyApiKey } from './api-keys.ts';
import { TENANT_HEADER, type ChooseTenant } from './tenant-choice.ts';
import type { VerifyToken } from './verify-token.ts';

declare global {
  namespace Express {
    interface Locals {
      /** null: no token (anonymous). Set only by `authenticate`. */
      identity?: Identity | null;
      /** What the request was charged, filled in by the limits plugin. */
      usage?: Usage;
    }
  }
}

export function sendAuthError(res: Response, error: AuthError): void {
  if (CATALOGUE[error.code].status === 401) res.setHeader('WWW-Authenticate', `Bearer error="invalid_token"`);
  sendError(res, error.code, error.message);
}

export function authenticate(verify: VerifyToken, claimNames: ClaimNames, chooseTenant: ChooseTenant, verifyApiKey: VerifyApiKey) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (header === undefined) {
      res.locals.identity = null;
      return next();
    }
    try {
      const match = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(header);
      if (!match) throw new AuthError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <token>`.');
      const credential = match[1]!;
      // A key fixes its tenant: X-Tenant does not apply to it.
      if (credential.startsWith(API_KEY_PREFIX)) {
        res.locals.identity = await verifyApiKey(credential);
        return next();
      }
      const identity = identityFromClaims(await verify(credential), claimNames);
      const chosen = req.headers[TENANT_HEADER];
      if (typeof chosen === 'string' && chosen !== '') {
        const tenantId = await chooseTenant(identity.userId, chosen);
        if (tenantId) identity.tenantId = tenantId;
        else delete identity.tenantId;
      }
      res.locals.identity = identity;
      next();
    } catch (error) {
      if (error instanceof AuthError) return sendAuthError(res, error);
      next(error);
    }
  };
}
