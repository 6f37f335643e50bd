// The PostGraphile preset: which schema becomes the API, with which plugins, and how
// each request's verified identity reaches PostgreSQL. Plain objects throughout: the
// options are in the preset that extends this one (src/options.ts).
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { pgSettingsFor } from '../auth/claims.ts';
import { LimitsPlugin } from '../limits/plugin.ts';
import { tenantgraphOptions } from '../options.ts';
import { RealtimeSchemaPlugin } from '../realtime/schema.ts';
import type { ConnectionSubscriber } from '../realtime/subscriber.ts';
import { sessionOf } from '../realtime/websocket.ts';
import { ErrorStatusPlugin } from './error-status.ts';
import { PageSizePlugin } from './page-sizes.ts';
import { RefusedUpdatesPlugin } from './refused-updates.ts';
import { TenantRoutingPlugin } from './tenant-routing.ts';
import { TenantScopedKeysPlugin } from './tenant-scoped-keys.ts';
import { WorkTablesPlugin } from './work-tables.ts';

export const EXPOSED_SCHEMAS = ['app_public'];
export const GRAPHQL_PATH = '/graphql';
export const GRAPHIQL_PATH = '/graphiql';

declare global {
  namespace Grafast {
    interface Context {
      /** The websocket's subscriptions (src/realtime/); absent over HTTP, where subscriptions do not run. */
      realtime?: ConnectionSubscriber;
    }
  }
}

/**
 * The API's preset: which schema becomes the API, with which plugins, and how each
 * request's verified identity reaches PostgreSQL. Its options come from a preset that
 * extends it (presetFromEnv in src/config.ts; graphile.config.ts), the database from the
 * server's pool (src/server/install-graphql.ts adds the pgServices).
 */
export const TenantgraphPreset: GraphileConfig.Preset = {
  extends: [
    PostGraphileAmberPreset,
    PgSimplifyInflectionPreset,
    PostGraphileConnectionFilterPreset,
    PgAggregatesPreset,
  ],
  plugins: [
    TenantScopedKeysPlugin,
    TenantRoutingPlugin,
    ErrorStatusPlugin,
    RefusedUpdatesPlugin,
    PageSizePlugin,
    LimitsPlugin,
    RealtimeSchemaPlugin,
    WorkTablesPlugin,
  ],
  gather: {
    // Function arguments without a default are required (`createProduct(name!, price!)`).
    pgStrictFunctions: true,
  },
  schema: {
    // A plugin conflict (say, two fields with one name) fails the build loudly.
    dontSwallowErrors: true,
  },
  grafserv: {
    graphqlPath: GRAPHQL_PATH,
    graphiqlPath: GRAPHIQL_PATH,
    graphiqlOnGraphQLGET: false,
    // Websockets are ours (src/realtime/websocket.ts): grafserv's handler would accept
    // every connection without verifying who opens it.
    websockets: false,
  },
  grafast: {
    context(requestContext, args) {
      const { roles, timeouts } = tenantgraphOptions(args.resolvedPreset!);
      const http = requestContext.expressv4;
      // Verified by `authenticate` (HTTP) or at the websocket's handshake (its membership
      // checked again before each operation); absent means anonymous.
      const socket = requestContext.ws && sessionOf(requestContext.ws.socket);
      const identity = socket ? socket.identity : (http?.res.locals.identity ?? null);
      const requestId = socket ? socket.id : http?.req.id;
      return {
        // Transaction-local like the claims, so it also holds behind a transaction pooler.
        // The limits plugin lowers statement_timeout to what the caller can pay for (src/limits/work-pricing.ts).
        pgSettings: {
          ...pgSettingsFor(identity, roles),
          statement_timeout: String(timeouts.statementMs),
          // The request log's id (a socket's own id), so the audit trail and the log can be joined.
          ...(requestId !== undefined && { 'app.request_id': String(requestId) }),
        },
        identity,
        clientIp: http?.req.ip ?? requestContext.ws?.request?.socket.remoteAddress,
        // The limits plugin records what the operation cost here; the request log reads it.
        // Who the request is stays in `identity`, made once (src/auth/identify.ts) and frozen.
        usage: http ? (http.res.locals.usage ??= {}) : {},
        ...(socket && { realtime: socket.subscriber }),
      };
    },
  },
};
