// The HTTP server: Express 5, then on the GraphQL path, in order: verify the token,
// check the request's envelope (JSON, size, no batch), fail fast while the database is
// away, and finally PostGraphile through grafserv, whose limits plugin checks each
// operation's document, cost, budget and concurrency (src/limits/). Everything it needs
// is passed in, so tests start it in-process on a random port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { GraphQLSchema } from 'grafast/graphql';
import helmet from 'helmet';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { createApiKeyVerifier } from './auth/api-keys.ts';
import { authenticate } from './auth/authenticate.ts';
import { createIdentify } from './auth/identify.ts';
import { createTenantChoice, TENANT_HEADER } from './auth/tenant-choice.ts';
import { pgSettingsFor, type ClaimNames, type RequestRoles } from './auth/claims.ts';
import type { VerifyToken } from './auth/verify-token.ts';
import { createConnectionShares, isDatabaseBusy } from './request/work.ts';
import { createDatabaseGate, isDatabaseUnavailable } from './http/database-gate.ts';
import { downloadExport, EXPORTS_PATH } from './http/exports.ts';
import { sendError } from './errors/catalogue.ts';
import { INVITATION_LINK_PATH } from './jobs/send-invitation-email.ts';
import { requestBody } from './http/request-body.ts';
import { requestLog } from './http/request-log.ts';
import { createBudget, type BudgetOptions } from './limits/budget.ts';
import { createBulkhead, type ConcurrencyOptions } from './limits/bulkhead.ts';
import { createChargedKey } from './limits/charged-key.ts';
import type { PageLimits } from './limits/cost.ts';
import type { OperationLimits } from './limits/plugin.ts';
import { createTenantVerifier } from './limits/verified-tenant.ts';
import type { Logger } from './logger.ts';
import { createMaskError, loadConstraintMessages } from './plugins/mask-errors.ts';
import { StartupError } from './startup-error.ts';
import { createPreset, EXPOSED_SCHEMAS, GRAPHIQL_PATH, GRAPHQL_PATH } from './plugins/preset.ts';
import { loadTrustedDocuments, type TrustedDocuments } from './plugins/trusted-documents.ts';
import type { Observability } from './observability/observability.ts';
import { ListenHub } from './realtime/hub.ts';
import { createReadSlots } from './realtime/read-slots.ts';
import { ConnectionSubscriber, SubscriptionCounts, type SubscriptionLimits } from './realtime/subscriber.ts';
import { attachWebsockets } from './realtime/websocket.ts';

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
  limits: OperationLimits & { maxBodyBytes: number };
  /** Default and largest page sizes, offsets and groups. */
  pages: PageLimits;
  /** Cost budgets per tenant (user, IP); null: none. */
  budget: BudgetOptions | null;
  /** Operations per tenant (user, IP) executing at once in this process. */
  concurrency: ConcurrencyOptions;
  /** What database work costs: connections per caller, points per millisecond, statement timeouts by price (src/request/work.ts, src/limits/work-pricing.ts). */
  work: {
    /** Pool connections one tenant (user, IP) holds at once in this process (TENANT_CONNECTIONS). */
    connectionsPerKey: number;
    /** Points per millisecond of database connection time (DB_POINTS_PER_MS). */
    pointsPerDatabaseMs: number;
    /** The shortest statement timeout an operation gets (MIN_STATEMENT_TIMEOUT_MS). */
    minStatementMs: number;
  };
  /** How long a verified membership is trusted for budgets and logs. */
  membershipCacheSeconds: number;
  /** How long a verified API key is trusted: a revocation takes effect within it. */
  apiKeyCacheSeconds: number;
  /** Longest a 429 is held back before it is sent. */
  throttleDelayMs: number;
  /** The trusted-documents manifest, and whether only its operations run; null: any operation runs. */
  trustedDocuments: { file: string; enforce: boolean } | null;
  /** Browser origins allowed by CORS; empty: none. */
  corsOrigins: string[];
  timeouts: {
    /** Longest a statement may run (transaction-local statement_timeout). */
    statementMs: number;
    /** Longest a client may take to send its request. */
    requestMs: number;
    /** Longest a request waits for a database connection. */
    connectMs: number;
  };
  /** Subscriptions over websockets on the GraphQL path (src/realtime/). */
  realtime: {
    /** A direct connection (no transaction pooler) for LISTEN; undefined: authenticatorUrl. */
    listenUrl?: string | undefined;
    limits: SubscriptionLimits;
    /** How often sockets are pinged; one that misses a pong is dropped. */
    keepaliveMs: number;
    /** How long a socket may stay open without a subscription. */
    idleMs: number;
  };
  /** Rebuild the schema as migrations change it (development; needs a superuser). */
  watch?: { superuserUrl: string } | undefined;
  /** Where tenant export archives are (EXPORT_DIR), served to owners at GET /exports/:id. */
  exportDir: string;
  /** Development only: demo tokens and the example app (src/dev/dev-tools.ts); never set in production. */
  devTools?: express.Router | undefined;
  /** Metrics and per-tenant usage (src/observability/); unset: nothing is counted. */
  observability?: Observability | undefined;
}

export interface ApiServer {
  url: string;
  /** The GraphQL schema as built at start-up. */
  schema: GraphQLSchema;
  httpServer: Server;
  /** Open subscriptions, in total and per tenant (for metrics). */
  subscriptions: SubscriptionCounts;
  /** Stops accepting, lets in-flight requests finish, then releases the pool. */
  close(): Promise<void>;
}

export { StartupError };

/** The least connect timeout in watch mode: longer than a schema rebuild blocks the event loop. */
const WATCH_CONNECT_TIMEOUT_MS = 15_000;

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { logger } = options;
  const pool = new pg.Pool({
    connectionString: options.authenticatorUrl,
    max: options.poolSize,
    // Watch mode rebuilds the schema in seconds of CPU that block the event loop: a connect
    // timer shorter than that fires though the server answered (development only).
    connectionTimeoutMillis: options.watch
      ? Math.max(options.timeouts.connectMs, WATCH_CONNECT_TIMEOUT_MS)
      : options.timeouts.connectMs,
    // Statements of one request go out together where they can (src/request/request-adaptor.ts).
    pipeline: true,
  });
  const gate = createDatabaseGate(options.authenticatorUrl, logger);
  // A tenant's statements queue in its share for as long as one statement of its own may run, and a connect.
  const shares = createConnectionShares({
    perKey: options.work.connectionsPerKey,
    queueTimeoutMs: options.timeouts.statementMs + options.timeouts.connectMs,
  });
  // pg-pool only listens for errors on idle clients. A connection lost while a request
  // holds it (between two of its queries) would otherwise be an uncaught exception that
  // ends the process; the request itself fails on its next query.
  pool.on('connect', (client) => {
    client.on('error', (error) => gate.report(error));
    // What @dataplan/pg's stock adaptor sets on each new connection (request-adaptor.ts
    // replaces it): no JIT optimisation, which costs short queries far more than it saves.
    client.query('set jit_optimize_above_cost = -1').catch((error: Error) => gate.report(error));
  });

  let constraintMessages;
  try {
    constraintMessages = await loadConstraintMessages(pool, EXPOSED_SCHEMAS);
  } catch (error) {
    await pool.end();
    throw new StartupError(
      `Cannot reach the database as the authenticator role: ${(error as Error).message}`,
    );
  }
  // An idle connection dropped by the server must not take the process down.
  pool.on('error', (error) => {
    logger.warn({ err: error }, 'idle database connection lost');
    gate.report(error);
  });

  let trustedDocuments: TrustedDocuments | null = null;
  if (options.trustedDocuments) {
    const { file, enforce } = options.trustedDocuments;
    try {
      trustedDocuments = { manifest: await loadTrustedDocuments(file), enforce };
    } catch (error) {
      // Without the manifest, development still runs any operation; production runs none.
      if (enforce || (error as NodeJS.ErrnoException).code !== 'ENOENT') {
        await pool.end();
        throw new StartupError(
          `Trusted documents (TRUSTED_DOCUMENTS): ${(error as Error).message}. Run npm run codegen, or set TRUSTED_DOCUMENTS=off.`,
        );
      }
      trustedDocuments = { manifest: {}, enforce };
    }
  }
  const observed = options.observability?.attach({
    pool,
    databaseGateOpen: gate.isOpen,
    trustedDocuments: trustedDocuments?.manifest,
  });
  const budget = options.budget && createBudget(options.budget, logger);
  const verifyTenant = createTenantVerifier(pool, options.membershipCacheSeconds);
  const chargedKey = createChargedKey(verifyTenant);
  const preset = createPreset({
    pool,
    shares,
    roles: options.roles,
    trustedDocuments,
    limits: {
      limits: options.limits,
      pages: options.pages,
      budget,
      bulkhead: createBulkhead(options.concurrency),
      verifyTenant,
      throttleDelayMs: options.throttleDelayMs,
      pricing: {
        pointsPerDatabaseMs: options.work.pointsPerDatabaseMs,
        maxStatementMs: options.timeouts.statementMs,
        minStatementMs: Math.min(options.work.minStatementMs, options.timeouts.statementMs),
      },
    },
    development: options.development,
    graphiql: options.graphiql,
    maskError: createMaskError(logger, constraintMessages, gate, { hints: options.limits.introspection }),
    statementTimeoutMs: options.timeouts.statementMs,
    watch: options.watch,
    plugins: observed && [observed.plugin],
  });
  const pgl = postgraphile(preset);
  const releaseDatabase = async () => {
    await pgl.release();
    // PostGraphile leaves the services it was given to us: in watch mode the pgSubscriber
    // holds a LISTEN connection of the pool, and pool.end() would wait for it forever.
    for (const service of preset.pgServices ?? []) await service.release?.();
    await pool.end();
  };
  let schema: GraphQLSchema;
  try {
    // Built now, not on the first request: a broken schema fails the start, loudly.
    schema = await pgl.getSchema();
  } catch (error) {
    await releaseDatabase();
    await budget?.close();
    throw new StartupError(
      `The GraphQL schema could not be built from the database: ${(error as Error).message}`,
    );
  }
  const serv = pgl.createServ(grafserv);
  // Watch mode serves no rebuilt schema the schema guard refuses (src/dba/guarded-watch.ts).
  // Loaded only in watch mode (development): production never needs the schema guard.
  const watchGuard =
    options.watch &&
    (await import('./dba/guarded-watch.ts')).guardWatchMode(serv, {
      pool,
      authenticatorUrl: options.authenticatorUrl,
      roles: options.roles,
      constraintMessages,
      logger,
    });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Ahead of the request log (Vite serves dozens of modules a page) and of helmet (its client runs inline scripts).
  if (options.devTools) app.use(options.devTools);
  if (observed) app.use(observed.middleware);
  app.use(requestLog(logger));
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
      origin: options.corsOrigins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', TENANT_HEADER],
      exposedHeaders: ['retry-after', 'x-request-id'],
      maxAge: 600,
    }),
  );

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

  // One identity for every transport (src/auth/identify.ts): GraphQL over HTTP, export
  // downloads, and the websocket handshake below.
  const identify = createIdentify({
    verifyToken: options.verifyToken,
    claimNames: options.claimNames,
    chooseTenant: createTenantChoice(pool, options.membershipCacheSeconds),
    verifyApiKey: createApiKeyVerifier(pool, options.apiKeyCacheSeconds),
  });
  app.use([GRAPHQL_PATH, EXPORTS_PATH], authenticate(identify));
  const download = downloadExport({
    pool,
    roles: options.roles,
    exportDir: options.exportDir,
    logger,
    shares,
    chargedKey,
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
  app.use(GRAPHQL_PATH, requestBody(options.limits.maxBodyBytes));
  app.use(GRAPHQL_PATH, gate.middleware);
  if (watchGuard) app.use(GRAPHQL_PATH, watchGuard.middleware);

  const httpServer = createServer(app);
  httpServer.requestTimeout = options.timeouts.requestMs;
  httpServer.headersTimeout = Math.min(options.timeouts.requestMs, 10_000);
  // false: no websocket handler of grafserv's; ours verifies each connection first.
  await serv.addTo(app, httpServer, false);
  const subscriptions = new SubscriptionCounts();
  options.observability?.countSubscriptions(() => subscriptions.total);
  // One key's events hold at most its TENANT_CONNECTIONS of the read slots (src/realtime/read-slots.ts).
  const readSlot = createReadSlots({
    readConcurrency: options.realtime.limits.readConcurrency,
    perKey: options.work.connectionsPerKey,
    budget,
  });
  const hub = new ListenHub(options.realtime.listenUrl ?? options.authenticatorUrl, logger);
  const websockets = attachWebsockets({
    httpServer,
    serv,
    path: GRAPHQL_PATH,
    identify,
    newSubscriber: (identity) =>
      new ConnectionSubscriber({
        identity,
        pgSettings: pgSettingsFor(identity, options.roles),
        pool,
        shares,
        chargedKey,
        hub,
        counts: subscriptions,
        limits: options.realtime.limits,
        readSlot,
      }),
    logger,
    keepaliveMs: options.realtime.keepaliveMs,
    idleMs: options.realtime.idleMs,
    apiKeyRecheckMs: options.apiKeyCacheSeconds * 1000,
  });
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
    subscriptions,
    close() {
      closing ??= (async () => {
        // Open sockets would keep the server from closing: 1001, going away.
        websockets.close();
        await hub.close();
        const drained = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        await drained;
        gate.close();
        await budget?.close();
        await releaseDatabase();
      })();
      return closing;
    },
  };
}
