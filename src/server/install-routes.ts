// Step 5, routes: health, export downloads, the GraphQL path (the request body's checks,
// the database gate, watch mode's guard, then grafserv), a word for a misdirected
// invitation link, and the 404 and error answers last.
import type { Server } from 'node:http';
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type pg from 'pg';
import type { GuardedWatch } from '../dba/guarded-watch.ts';
import { isDatabaseBusy, type ConnectionShares } from '../request/work.ts';
import { sendError } from '../errors/catalogue.ts';
import { isDatabaseUnavailable, type DatabaseGate } from '../http/database-gate.ts';
import { downloadExport, EXPORTS_PATH } from '../http/exports.ts';
import { requestBody } from '../http/request-body.ts';
import { INVITATION_LINK_PATH } from '../jobs/send-invitation-email.ts';
import type { ChargedKey } from '../limits/charged-key.ts';
import type { Logger } from '../logger.ts';
import type { TenantgraphOptions } from '../options.ts';
import { GRAPHQL_PATH } from '../plugins/preset.ts';
import type { GraphQLStep } from './install-graphql.ts';

export async function installRoutes(
  app: express.Express,
  httpServer: Server,
  context: {
    pool: pg.Pool;
    gate: DatabaseGate;
    shares: ConnectionShares;
    chargedKey: ChargedKey;
    serv: GraphQLStep['serv'];
    watchGuard?: GuardedWatch | undefined;
    tenantgraph: Pick<TenantgraphOptions, 'roles' | 'exportDir' | 'limits'>;
    logger: Logger;
  },
): Promise<void> {
  const { pool, gate, logger, tenantgraph } = context;
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await pool.query('select 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'the database does not answer' });
    }
  });

  const download = downloadExport({
    pool,
    roles: tenantgraph.roles,
    exportDir: tenantgraph.exportDir,
    logger,
    shares: context.shares,
    chargedKey: context.chargedKey,
  });
  // Behind the database gate like GraphQL: a database that is away is a 503, not a 500.
  app.get(`${EXPORTS_PATH}/:id`, gate.middleware, async (req: Request<{ id: string }>, res: Response) => {
    try {
      await download(req, res);
    } catch (error) {
      if (isDatabaseBusy(error)) {
        if (!res.headersSent) sendError(res, 'DATABASE_BUSY');
        return;
      }
      if (!isDatabaseUnavailable(error)) throw error;
      gate.report(error);
      if (!res.headersSent) sendError(res, 'DATABASE_UNAVAILABLE');
    }
  });

  app.use(GRAPHQL_PATH, requestBody(tenantgraph.limits.maxBodyBytes));
  app.use(GRAPHQL_PATH, gate.middleware);
  if (context.watchGuard) app.use(GRAPHQL_PATH, context.watchGuard.middleware);
  // false: no websocket handler of grafserv's; ours verifies each connection first (realtime).
  await context.serv.addTo(app, httpServer, false);

  // An invitation link that reached the API rather than the app (APP_URL pointing here):
  // say where it belongs. Development redirects it to the example app first (dev-tools.ts).
  app.get(INVITATION_LINK_PATH, (_req: Request, res: Response) =>
    sendError(
      res,
      'ROUTE_NOT_FOUND',
      'This invitation link belongs to the web app, not the API: set APP_URL to your frontend, whose accept page answers it with invitationPreview, acceptInvitation or declineInvitation.',
    ),
  );
  app.use((_req: Request, res: Response) => sendError(res, 'ROUTE_NOT_FOUND'));
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, 'unhandled error in a request');
    sendError(res, 'INTERNAL_SERVER_ERROR');
  });
}
