// One Express middleware, first on every request: when the response has been sent, what
// the request was and what it used goes to the metrics (by route, status, operation and
// outcome, never by tenant) and to the per-tenant usage (by the identity's verified tenant
// only, src/auth/identify.ts).
import type { NextFunction, Request, Response } from 'express';
import { methodLabel, routeLabel, type Metrics } from './metrics.ts';
import type { UsageTop } from './usage-top.ts';

export type OperationLabel = (operationName: string | undefined, reachedOperation: boolean) => string;

export function observeRequests(metrics: Metrics, usageTop: UsageTop, operationLabel: OperationLabel) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    const route = routeLabel(req.path);
    res.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const { identity, usage, errorCodes } = res.locals;
      const graphql = route === 'graphql';
      metrics.observe({
        route,
        method: methodLabel(req.method),
        status: res.statusCode,
        seconds,
        ...(graphql && {
          operation: operationLabel(usage?.operationName, usage?.executed === true),
          errorCodes,
          actualCost: usage?.actualCost,
        }),
      });
      if (!graphql || req.method === 'OPTIONS') return;
      usageTop.record(identity?.verifiedTenantId, {
        requests: 1,
        costPoints: usage?.actualCost ?? 0,
        databaseMs: usage?.databaseMs ?? 0,
        errors: res.statusCode >= 400 || (errorCodes?.length ?? 0) > 0 ? 1 : 0,
      });
    });
    next();
  };
}
