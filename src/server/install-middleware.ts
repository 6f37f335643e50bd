// Step 3, HTTP middleware for every request: the development tools, the metrics, the
// request log, security headers (helmet) and CORS, in that order.
import cors from 'cors';
import type express from 'express';
import helmet from 'helmet';
import { TENANT_HEADER } from '../auth/tenant-choice.ts';
import { requestLog } from '../http/request-log.ts';
import type { Logger } from '../logger.ts';
import type { TenantgraphOptions } from '../options.ts';
import { GRAPHIQL_PATH } from '../plugins/preset.ts';

export function installMiddleware(
  app: express.Express,
  options: {
    /** Development only: demo tokens and the example app (src/dev/dev-tools.ts). */
    devTools?: express.Router | undefined;
    /** The metrics' request middleware (src/observability/), when on. */
    observe?: express.RequestHandler | undefined;
    logger: Logger;
    tenantgraph: Pick<TenantgraphOptions, 'corsOrigins'>;
  },
): void {
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Ahead of the request log (Vite serves dozens of modules a page) and of helmet (its client runs inline scripts).
  if (options.devTools) app.use(options.devTools);
  if (options.observe) app.use(options.observe);
  app.use(requestLog(options.logger));
  // GraphiQL (Ruru) runs inline scripts and workers; everything else gets helmet's strict defaults.
  const strictHeaders = helmet();
  const graphiqlHeaders = helmet({ contentSecurityPolicy: false });
  app.use((req, res, next) =>
    (req.path === GRAPHIQL_PATH || req.path.startsWith('/ruru-static/') ? graphiqlHeaders : strictHeaders)(
      req,
      res,
      next,
    ),
  );
  app.use(
    cors({
      origin: options.tenantgraph.corsOrigins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', TENANT_HEADER],
      exposedHeaders: ['retry-after', 'x-request-id'],
      maxAge: 600,
    }),
  );
}
