// The server's settings as the environment gives them, so `npm start` and the tests
// build servers the same way.
import type { Env } from './config.ts';
import type { ApiServerOptions } from './server.ts';

export type EnvServerOptions = Omit<
  ApiServerOptions,
  'authenticatorUrl' | 'verifyToken' | 'logger' | 'watch'
>;

export function serverOptionsFromEnv(env: Env): EnvServerOptions {
  const development = env.NODE_ENV === 'development';
  const graphiql = env.GRAPHIQL ?? development;
  return {
    roles: { visitor: env.DATABASE_VISITOR, anonymous: env.DATABASE_ANONYMOUS },
    claimNames: {
      tenant: env.JWT_TENANT_CLAIM,
      email: env.JWT_EMAIL_CLAIM,
      emailVerified: env.JWT_EMAIL_VERIFIED_CLAIM,
    },
    development,
    graphiql,
    poolSize: env.PG_POOL_MAX,
    host: env.HOST,
    port: env.PORT,
    limits: {
      maxBodyBytes: env.MAX_BODY_BYTES,
      maxTokens: env.MAX_QUERY_TOKENS,
      maxDepth: env.MAX_QUERY_DEPTH,
      maxAliases: env.MAX_QUERY_ALIASES,
      maxDirectives: env.MAX_QUERY_DIRECTIVES,
      maxQueryCost: env.MAX_QUERY_COST,
      maxResponseBytes: env.MAX_RESPONSE_BYTES,
      // GraphiQL needs introspection to offer completion and docs.
      introspection: env.INTROSPECTION ?? (development || graphiql),
    },
    pages: {
      defaultSize: env.DEFAULT_PAGE_SIZE,
      maxSize: env.MAX_PAGE_SIZE,
      maxOffset: env.MAX_OFFSET,
      maxGroups: env.MAX_GROUPS,
    },
    budget:
      env.BUDGET_POINTS > 0
        ? { maxPoints: env.BUDGET_POINTS, restoreRate: env.BUDGET_RESTORE_RATE, redisUrl: env.REDIS_URL }
        : null,
    concurrency: {
      perKey: env.TENANT_CONCURRENCY,
      queue: env.TENANT_QUEUE,
      queueTimeoutMs: env.TENANT_QUEUE_TIMEOUT_MS,
    },
    work: {
      connectionsPerKey: env.TENANT_CONNECTIONS,
      pointsPerDatabaseMs: env.DB_POINTS_PER_MS,
      minStatementMs: env.MIN_STATEMENT_TIMEOUT_MS,
    },
    membershipCacheSeconds: env.MEMBERSHIP_CACHE_SECONDS,
    exportDir: env.EXPORT_DIR,
    apiKeyCacheSeconds: env.API_KEY_CACHE_SECONDS,
    throttleDelayMs: env.THROTTLE_DELAY_MS,
    // Production runs only the manifest's operations; development runs any (GraphiQL).
    trustedDocuments:
      env.TRUSTED_DOCUMENTS === 'off' ? null : { file: env.TRUSTED_DOCUMENTS, enforce: !development },
    corsOrigins: env.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    realtime: {
      listenUrl: env.DATABASE_LISTEN_URL,
      limits: {
        perConnection: env.MAX_SUBSCRIPTIONS_PER_CONNECTION,
        perTenant: env.MAX_SUBSCRIPTIONS_PER_TENANT,
        maxBuffered: env.SUBSCRIPTION_BUFFER,
        // Half the pool, as for a tenant's operations: the other half always serves requests.
        readConcurrency: env.SUBSCRIPTION_READ_CONCURRENCY ?? Math.max(1, Math.floor(env.PG_POOL_MAX / 2)),
      },
      keepaliveMs: env.WS_KEEPALIVE_SECONDS * 1000,
      idleMs: env.WS_IDLE_SECONDS * 1000,
    },
    timeouts: {
      statementMs: env.STATEMENT_TIMEOUT_MS,
      requestMs: env.REQUEST_TIMEOUT_MS,
      connectMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    },
  };
}
