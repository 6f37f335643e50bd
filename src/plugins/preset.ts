// The PostGraphile preset: which schema becomes the API, with which plugins, and how
// each request's verified identity reaches PostgreSQL.
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import type pg from 'pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import type { GraphQLError } from 'grafast/graphql';
import { pgSettingsFor, type RequestRoles } from '../auth/claims.ts';
import { makeRequestPgService } from '../request/request-adaptor.ts';
import type { ConnectionShares } from '../request/work.ts';
import { createLimitsPlugin, type LimitsPluginOptions } from '../limits/plugin.ts';
import { RealtimeSchemaPlugin } from '../realtime/schema.ts';
import type { ConnectionSubscriber } from '../realtime/subscriber.ts';
import { sessionOf } from '../realtime/websocket.ts';
import { ErrorStatusPlugin } from './error-status.ts';
import { ExplainOnRequestPlugin } from './explain-on-request.ts';
import { graphiqlConfig } from './graphiql.ts';
import { createPageSizePlugin } from './page-sizes.ts';
import { RefusedUpdatesPlugin } from './refused-updates.ts';
import { TenantScopedKeysPlugin } from './tenant-scoped-keys.ts';
import { trustedDocumentsPreset, type TrustedDocuments } from './trusted-documents.ts';
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

export interface PresetOptions {
  /** A pool of the authenticator role; every request switches role inside its transaction. */
  pool: pg.Pool;
  /** Each caller's share of the pool's connections (src/request/work.ts). */
  shares: ConnectionShares;
  roles: RequestRoles;
  development: boolean;
  graphiql: boolean;
  maskError: (error: GraphQLError) => GraphQLError;
  /** The allow-list of operations; null: any operation runs. */
  trustedDocuments: TrustedDocuments | null;
  /** Page sizes (applied in the SQL), document limits, costs, budgets and bulkheads. */
  limits: LimitsPluginOptions;
  /** statement_timeout of every request's transaction. */
  statementTimeoutMs: number;
  /** Rebuild the schema when migrations change it (needs a superuser for the event trigger). */
  watch?: { superuserUrl: string } | undefined;
  /** More plugins (the observability plugin when metrics are on). */
  plugins?: GraphileConfig.Plugin[];
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [
      PostGraphileAmberPreset,
      PgSimplifyInflectionPreset,
      PostGraphileConnectionFilterPreset,
      PgAggregatesPreset,
      ...(options.trustedDocuments ? [trustedDocumentsPreset(options.trustedDocuments)] : []),
    ],
    plugins: [
      TenantScopedKeysPlugin,
      ErrorStatusPlugin,
      RefusedUpdatesPlugin,
      createPageSizePlugin(options.limits.pages),
      createLimitsPlugin(options.limits),
      RealtimeSchemaPlugin,
      WorkTablesPlugin,
      ...(options.development ? [ExplainOnRequestPlugin] : []),
      ...(options.plugins ?? []),
    ],
    pgServices: [
      makeRequestPgService({
        pool: options.pool,
        shares: options.shares,
        schemas: EXPOSED_SCHEMAS,
        ...(options.watch && { superuserConnectionString: options.watch.superuserUrl }),
      }),
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
      graphiql: options.graphiql,
      graphiqlPath: GRAPHIQL_PATH,
      graphiqlOnGraphQLGET: false,
      // Websockets are ours (src/realtime/websocket.ts): grafserv's handler would accept
      // every connection without verifying who opens it.
      websockets: false,
      watch: Boolean(options.watch),
      maskError: options.maskError,
    },
    ruru: graphiqlConfig(options.development),
    grafast: {
      // Plans and SQL help while developing and leak internals otherwise; even then only
      // for requests that ask (explain-on-request.ts), so GraphiQL offers its explain tool.
      explain: options.development,
      context(requestContext) {
        const http = requestContext.expressv4;
        // Verified by `authenticate` (HTTP) or at the websocket's handshake; absent means anonymous.
        const socket = requestContext.ws && sessionOf(requestContext.ws.socket);
        const identity = socket ? socket.identity : (http?.res.locals.identity ?? null);
        const requestId = socket ? socket.id : http?.req.id;
        return {
          // Transaction-local like the claims, so it also holds behind a transaction pooler.
          // The limits plugin lowers statement_timeout to what the caller can pay for (src/limits/work-pricing.ts).
          pgSettings: {
            ...pgSettingsFor(identity, options.roles),
            statement_timeout: String(options.statementTimeoutMs),
            // The request log's id (a socket's own id), so the audit trail and the log can be joined.
            ...(requestId !== undefined && { 'app.request_id': String(requestId) }),
          },
          identity,
          clientIp: http?.req.ip ?? requestContext.ws?.request?.socket.remoteAddress,
          // The limits plugin records what it charged here; the request log reads it.
          usage: http ? (http.res.locals.usage ??= {}) : {},
          ...(socket && { realtime: socket.subscriber }),
        };
      },
    },
  };
}
