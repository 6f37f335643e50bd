// Express middleware on the GraphQL path: verifies the bearer credential first (a JWT,
// or an API key) and the request's tenant choice (X-Tenant) with `identify`
// (identify.ts, which the websocket handshake uses too), so a bad one is answered with
// 401 here, before any GraphQL work and without a stack trace. The identity it leaves in
// res.locals (frozen, with its verified tenant) is the request's for good.
import type { NextFunction, Request, Response } from 'express';
import { CATALOGUE, sendError } from '../errors/catalogue.ts';
import { LOOK_UP_BUSY, noConnectionCode, type DatabaseGate } from '../http/database-gate.ts';
import type { Usage } from '../limits/plugin.ts';
import type { Identity } from './claims.ts';
import { AuthError } from './errors.ts';
import type { Identify } from './identify.ts';
import { TENANT_HEADER } from './tenant-choice.ts';

declare global {
  namespace Express {
    interface Locals {
      /** null: no token (anonymous). Set only by `authenticate`; frozen. */
      identity?: Identity | null;
      /** What the request used (cost, database time), filled in by the limits and observability plugins. */
      usage?: Usage;
    }
  }
}

export function sendAuthError(res: Response, error: AuthError): void {
  if (CATALOGUE[error.code].status === 401) res.setHeader('WWW-Authenticate', `Bearer error="invalid_token"`);
  sendError(res, error.code, error.message);
}

export function authenticate(identify: Identify, gate: Pick<DatabaseGate, 'report'>) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const tenant = req.headers[TENANT_HEADER];
      ({ identity: res.locals.identity } = await identify({
        authorization: req.headers.authorization,
        tenant: typeof tenant === 'string' ? tenant : undefined,
      }));
      next();
    } catch (error) {
      if (error instanceof AuthError) return sendAuthError(res, error);
      // A key's or a membership's look-up found no connection: refused as an operation
      // that found none is (src/limits/plugin.ts), and nothing ran.
      const code = noConnectionCode(error);
      if (!code) return next(error);
      gate.report(error);
      sendError(res, code, code === 'DATABASE_BUSY' ? LOOK_UP_BUSY : undefined, { retryAfter: 1 });
    }
  };
}
