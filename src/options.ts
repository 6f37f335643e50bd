// The project's own options: the `tenantgraph` scope of the graphile preset, beside
// grafserv's (host, port, GraphiQL), grafast's and the schema's, as graphile/crystal's
// packages declare theirs. src/config.ts fills it from the environment once; the
// server's steps (src/server/) and the plugins read their part from the resolved preset.
// Adding a setting touches config.ts and the code that enforces it.
import type { ClaimNames, RequestRoles } from './auth/claims.ts';
import type { Budget, BudgetOptions } from './limits/budget.ts';
import type { Bulkhead, ConcurrencyOptions } from './limits/bulkhead.ts';
import type { PageLimits } from './limits/cost.ts';
import type { VerifyTenant } from './limits/verified-tenant.ts';
import type { SubscriptionLimits } from './realtime/subscriber.ts';

declare global {
  namespace GraphileConfig {
    interface Preset {
      /**
       * tenantgraph's own options (src/options.ts): presetFromEnv (src/config.ts) sets
       * every one; a preset that extends it may override some, as `grafserv: { port: 0 }`
       * overrides grafserv's (scopes merge key by key).
       */
      tenantgraph?: Partial<TenantgraphOptions>;
    }
  }
  namespace GraphileBuild {
    interface SchemaOptions {
      /**
       * Default and largest page sizes, offsets and groups (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
       * MAX_OFFSET, MAX_GROUPS). In the schema's scope because the schema is built from them
       * (src/plugins/page-sizes.ts reads `build.options`, where graphile-build offers only
       * that scope); the cost model reads the same value (src/limits/plugin.ts).
       */
      tenantgraphPages?: PageLimits;
    }
  }
}

export interface TenantgraphOptions {
  /** The roles a request switches to (DATABASE_VISITOR, DATABASE_ANONYMOUS); never taken from a token. */
  roles: RequestRoles;
  /** Where a token carries the tenant, the email and whether it is verified (JWT_*_CLAIM). */
  claimNames: ClaimNames;
  /** Connections of the authenticator's pool (PG_POOL_MAX). */
  poolSize: number;
  /** One operation's document, cost and response (declared beside their checks: src/limits/plugin.ts), and a request body's size (MAX_BODY_BYTES). */
  limits: Tenantgraph.OperationLimits & { maxBodyBytes: number };
  /** Cost budgets per tenant (user, IP) (BUDGET_POINTS, BUDGET_RESTORE_RATE, REDIS_URL); null: none. */
  budget: BudgetOptions | null;
  /** Operations per tenant (user, IP) executing at once in this process (TENANT_CONCURRENCY, TENANT_QUEUE*). */
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
  /** How long a verified membership is trusted for budgets and logs (MEMBERSHIP_CACHE_SECONDS). */
  membershipCacheSeconds: number;
  /** How long a verified API key is trusted: a revocation takes effect within it (API_KEY_CACHE_SECONDS). */
  apiKeyCacheSeconds: number;
  /** Longest a 429 is held back before it is sent (THROTTLE_DELAY_MS). */
  throttleDelayMs: number;
  /** The trusted-documents manifest, and whether only its operations run (TRUSTED_DOCUMENTS); null: any operation runs. */
  trustedDocuments: { file: string; enforce: boolean } | null;
  /** Browser origins allowed by CORS (CORS_ORIGINS); empty: none. */
  corsOrigins: string[];
  timeouts: {
    /** Longest a statement may run: transaction-local statement_timeout (STATEMENT_TIMEOUT_MS). */
    statementMs: number;
    /** Longest a client may take to send its request (REQUEST_TIMEOUT_MS). */
    requestMs: number;
    /** Longest a request waits for a database connection (DATABASE_CONNECT_TIMEOUT_MS). */
    connectMs: number;
  };
  /** Subscriptions over websockets on the GraphQL path (src/realtime/). */
  realtime: {
    /** A direct connection (no transaction pooler) for LISTEN (DATABASE_LISTEN_URL); undefined: the API's own. */
    listenUrl?: string | undefined;
    /** Subscriptions per socket and tenant, buffered events, concurrent reads (MAX_SUBSCRIPTIONS_*, SUBSCRIPTION_*). */
    limits: SubscriptionLimits;
    /** How often sockets are pinged; one that misses a pong is dropped (WS_KEEPALIVE_SECONDS). */
    keepaliveMs: number;
    /** How long a socket may stay open without a subscription (WS_IDLE_SECONDS). */
    idleMs: number;
  };
  /** Where tenant export archives are, served to owners at GET /exports/:id (EXPORT_DIR). */
  exportDir: string;
  /**
   * Not configuration: what the server builds at start-up for the plugins to share with
   * its routes (src/server/install-graphql.ts), as PostGraphile's `pgServices` carry a
   * pool. Absent when graphile's tooling loads graphile.config.ts.
   */
  services?: TenantgraphServices;
}

export interface TenantgraphServices {
  /** The tenants' cost buckets; null: no budgets. */
  budget: Budget | null;
  /** Operations of one tenant (user, IP) executing at once. */
  bulkhead: Bulkhead;
  /** The verified tenant of an identity (membership), with its cache. */
  verifyTenant: VerifyTenant;
}

/** The `tenantgraph` scope of a resolved preset; an error that says so when it is missing. */
export function tenantgraphOptions(preset: GraphileConfig.ResolvedPreset): TenantgraphOptions {
  const options = preset.tenantgraph;
  if (!options?.limits)
    throw new Error('The preset has no tenantgraph options: extend presetFromEnv (src/config.ts)');
  // Complete: presetFromEnv sets every option, and presets extending it only override some.
  return options as TenantgraphOptions;
}
