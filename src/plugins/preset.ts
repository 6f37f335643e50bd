// The PostGraphile preset: which schema becomes the API, with which plugins, and how
// each request's verified identity reaches PostgreSQL.
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import type pg from 'pg';
import { makePgService } from 'postgraphile/adaptors/pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { pgSettingsFor, type RequestRoles } from '../auth/claims.ts';
import type { GraphQLError } from 'grafast/graphql';
import { TenantScopedKeysPlugin } from './tenant-scoped-keys.ts';

export const EXPOSED_SCHEMAS = ['app_public'];
export const GRAPHQL_PATH = '/graphql';
export const GRAPHIQL_PATH = '/graphiql';

export interface PresetOptions {
  /** A pool of the authenticator role; every request switches role inside its transaction. */
  pool: pg.Pool;
  roles: RequestRoles;
  development: boolean;
  graphiql: boolean;
  maskError: (error: GraphQLError) => GraphQLError;
  /** statement_timeout of every request's transaction. */
  statementTimeoutMs: number;
  /** Rebuild the schema when migrations change it (needs a superuser for the event trigger). */
  watch?: { superuserUrl: string } | undefined;
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PostGraphileConnectionFilterPreset, PgAggregatesPreset],
    plugins: [TenantScopedKeysPlugin, errorStatusPlugin()],
    pgServices: [
      makePgService({
        pool: options.pool,
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
      websockets: false,
      watch: Boolean(options.watch),
      maskError: options.maskError,
    },
    grafast: {
      // Plans and SQL in responses help while developing and leak internals otherwise.
      explain: options.development,
      context(requestContext) {
        // Set by the `authenticate` middleware; absent (never run) means anonymous.
        const identity = requestContext.expressv4?.res.locals.identity;
        // Transaction-local like the claims, so it also holds behind a transaction pooler.
        return { pgSettings: { ...pgSettingsFor(identity, options.roles), statement_timeout: String(options.statementTimeoutMs) } };
      },
    },
  };
}

// HTTP status for responses that failed as a whole. GraphQL answers 200 even when
// every field failed; clients and proxies deserve better: when no field produced data
// and every error carries one of our codes, the status says what went wrong (a
// request already running when the database went away gets 503 like the closed gate
// answers). Partial successes stay 200. Only responses with errors are inspected.
const statusByCode: Record<string, number> = {
  DATABASE_UNAVAILABLE: 503,
  QUERY_TIMEOUT: 503,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_VALUE: 400,
  INVALID_INPUT: 400,
  INVALID_REFERENCE: 400,
};

function statusOf(buffer: Buffer): number | undefined {
  const body = JSON.parse(buffer.toString('utf8')) as { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
  if (body.data && Object.values(body.data).some((value) => value !== null)) return undefined;
  const statuses = (body.errors ?? []).map((error) => statusByCode[error.extensions?.code ?? '']);
  if (statuses.length === 0 || statuses.some((status) => status === undefined)) return undefined;
  return Math.max(...(statuses as number[]));
}

function errorStatusPlugin(): GraphileConfig.Plugin {
  return {
    name: 'ErrorStatusPlugin',
    version: '1.0.0',
    grafserv: {
      middleware: {
        async processRequest(next) {
          const result = await next();
          if (!result || result.type !== 'buffer' || result.statusCode !== 200 || !result.buffer.includes('"errors"')) return result;
          const statusCode = statusOf(result.buffer);
          if (!statusCode) return result;
          return { ...result, statusCode, headers: { ...result.headers, ...(statusCode === 503 && { 'retry-after': '1' }) } };
        },
      },
    },
  };
}
