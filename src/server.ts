// The HTTP server, as the steps of the request path: the pool, GraphQL (PostGraphile
// through grafserv, whose limits plugin checks each operation's document, cost, budget
// and concurrency: src/limits/), the HTTP middleware, identity, the routes, realtime.
// Each step is a file of src/server/ and gives back what closing the server closes, in
// the reverse order. Everything it needs is in its options (the preset, src/options.ts),
// so tests start it in-process on a random port.
import express from 'express';
import type { GraphQLSchema } from 'grafast/graphql';
import type { Server } from 'node:http';
import { resolvePreset } from 'graphile-config';
import type { VerifyToken } from './auth/verify-token.ts';
import type { Logger } from './logger.ts';
import type { Observability } from './observability/observability.ts';
import { tenantgraphOptions } from './options.ts';
import { TenantgraphPreset } from './plugins/preset.ts';
import type { SubscriptionCounts } from './realtime/subscriber.ts';
import { createHttpServer, listen } from './server/http-server.ts';
import { installGraphQL } from './server/install-graphql.ts';
import { installIdentity } from './server/install-identity.ts';
import { installMiddleware } from './server/install-middleware.ts';
import { installPool } from './server/install-pool.ts';
import { installRealtime } from './server/install-realtime.ts';
import { installRoutes } from './server/install-routes.ts';
import { closeInOrder, type Closable } from './shutdown.ts';
import { StartupError } from './startup-error.ts';

export interface ApiServerOptions {
  /** The configured preset: presetFromEnv's (src/config.ts), maybe extended; its `tenantgraph` scope configures every step. */
  preset: GraphileConfig.Preset;
  /** The authenticator's connection string: the only database login the API uses. */
  authenticatorUrl: string;
  verifyToken: VerifyToken;
  logger: Logger;
  /** Rebuild the schema as migrations change it (development; needs a superuser). */
  watch?: { superuserUrl: string } | undefined;
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

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const resolved = resolvePreset({ extends: [TenantgraphPreset, options.preset] });
  const tenantgraph = tenantgraphOptions(resolved);
  const server = { ...options, tenantgraph };
  // What closing the server closes, in that order: each step that opens something puts it in front.
  const opened: Closable[] = [];
  const opens = <Step extends { resource: Closable }>(step: Step): Step => {
    opened.unshift(step.resource);
    return step;
  };
  try {
    const database = opens(await installPool(server));
    const graphql = opens(await installGraphQL({ ...server, ...database }));
    const app = express();
    const { httpServer } = opens(createHttpServer(app, tenantgraph));
    installMiddleware(app, { ...server, observe: graphql.observe });
    const identify = installIdentity(app, { ...server, ...database });
    await installRoutes(app, httpServer, { ...server, ...database, ...graphql });
    const realtime = opens(installRealtime(httpServer, { ...server, ...database, ...graphql, identify }));
    const { host = '127.0.0.1', port = 0 } = resolved.grafserv ?? {};
    const url = await listen(httpServer, host, port);

    let closing: Promise<void> | undefined;
    return {
      url,
      schema: graphql.schema,
      httpServer,
      subscriptions: realtime.subscriptions,
      close: () => (closing ??= closeInOrder(opened)),
    };
  } catch (error) {
    // A step that failed has released what it opened; the steps before it are released here.
    await closeInOrder(opened);
    throw error;
  }
}
