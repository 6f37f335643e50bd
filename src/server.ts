// The HTTP server: Express 5, token verification, then PostGraphile through grafserv.
// Everything it needs is passed in, so tests start it in-process on a random port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { GraphQLSchema } from 'grafast/graphql';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { authenticate } from './auth/authenticate.ts';
import type { ClaimNames, RequestRoles } from './auth/claims.ts';
import type { VerifyToken } from './auth/verify-token.ts';
import type { Logger } from './logger.ts';
import { createMaskError, loadConstraintMessages } from './plugins/mask-errors.ts';
import { createPreset, EXPOSED_SCHEMAS, GRAPHQL_PATH } from './plugins/preset.ts';

export interface ApiServerOptions {
  /** The authenticator's connection string: the only database login the API uses. */
  authenticatorUrl: string;
  roles: RequestRoles;
  verifyToken: VerifyToken;
  claimNames: ClaimNames;
  logger: Logger;
  development: boolean;
  graphiql: boolean;
  poolSize: number;
  host: string;
  port: number;
  /** Rebuild the schema as migrations change it (development; needs a superuser). */
  watch?: { superuserUrl: string } | undefined;
}

export interface ApiServer {
  url: string;
  schema: GraphQLSchema;
  httpServer: Server;
  /** Stops accepting, lets in-flight requests finish, then releases the pool. */
  close(): Promise<void>;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

function healthRoutes(pool: pg.Pool) {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await pool.query('select 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'the database does not answer' });
    }
  });
  return router;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { logger } = options;
  const pool = new pg.Pool({ connectionString: options.authenticatorUrl, max: options.poolSize });
  // An idle connection dropped by the server must not take the process down.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection lost'));

  let constraintMessages;
  try {
    constraintMessages = await loadConstraintMessages(pool, EXPOSED_SCHEMAS);
  } catch (error) {
    await pool.end();
    throw new StartupError(`Cannot reach the database as the authenticator role: ${(error as Error).message}`);
  }

  const preset = createPreset({
    pool,
    roles: options.roles,
    development: options.development,
    graphiql: options.graphiql,
    maskError: createMaskError(logger, constraintMessages),
    watch: options.watch,
  });
  const pgl = postgraphile(preset);
  let schema: GraphQLSchema;
  try {
    // Built now, not on the first request: a broken schema fails the start, loudly.
    schema = await pgl.getSchema();
  } catch (error) {
    await pgl.release();
    await pool.end();
    throw new StartupError(`The GraphQL schema could not be built from the database: ${(error as Error).message}`);
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(pool));
  app.use(GRAPHQL_PATH, authenticate(options.verifyToken, options.claimNames));
  const httpServer = createServer(app);
  await pgl.createServ(grafserv).addTo(app, httpServer);
  app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, 'unhandled error in a request');
    res.status(error.status ?? 500).json({ errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, resolve);
  });
  const address = httpServer.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    schema,
    httpServer,
    close() {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        await drained;
        await pgl.release();
        await pool.end();
      })();
      return closing;
    },
  };
}
