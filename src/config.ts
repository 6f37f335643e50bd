// Configuration comes from environment variables only, validated once at start-up.
// Every bad value is reported together, by name, so an operator fixes them in one go.
// presetFromEnv turns them into the graphile preset the API runs (graphile.config.ts).
import { availableParallelism } from 'node:os';
import { bool, cleanEnv, makeValidator, num, port, str, url, type CleanedEnv } from 'envalid';
import type { TenantgraphOptions } from './options.ts';
import { developmentPreset } from './plugins/development.ts';

const roleName = makeValidator<string>((value) => {
  // Role names end up as SQL identifiers in migrations (graphile-migrate placeholders
  // are substituted without escaping), so only plain lower-case identifiers pass.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new Error('must be a lower-case PostgreSQL identifier (a-z, 0-9, _)');
  }
  return value;
});

export const specs = {
  NODE_ENV: str({
    choices: ['development', 'production', 'test'],
    default: 'development',
    desc: '`production` turns off GraphiQL, explain, the demo data and development tokens, and runs only trusted documents',
    docs: 'production.md',
  }),

  // Where the database is. Unset DATABASE_URL means: run the embedded PostgreSQL.
  DATABASE_URL: url({
    default: undefined,
    desc: 'The **owner** role: migrations, the job worker, the `tenant:*` commands; unset: the embedded PostgreSQL',
    docs: 'production.md',
  }),
  AUTH_DATABASE_URL: url({
    default: undefined,
    desc: 'The **authenticator** role, the only login the API uses; required with `DATABASE_URL`',
    docs: 'production.md',
  }),
  SHADOW_DATABASE_URL: url({
    default: undefined,
    desc: "graphile-migrate's shadow database (`db:watch`, `db:commit`)",
    docs: 'dba-loop.md',
  }),
  ROOT_DATABASE_URL: url({
    default: undefined,
    desc: 'A superuser: creates the roles and the database on first start, runs `afterReset.sql`',
    docs: 'production.md',
  }),
  DATABASE_LISTEN_URL: url({
    default: undefined,
    desc: "The authenticator on a **direct** connection (no transaction pooler) for LISTEN, which subscriptions need: one per API process; unset: the API's own connection (`AUTH_DATABASE_URL`)",
    docs: 'realtime.md',
  }),
  EMBEDDED_POSTGRES_PORT: port({
    default: 54320,
    desc: 'Port of the embedded PostgreSQL (loopback only); a tool (`npm run db:*`, `tenant:*`, `token`) run beside `npm start` uses the cluster already running on the same `EMBEDDED_POSTGRES_DIR`, whatever its port',
    docs: 'development.md',
  }),
  EMBEDDED_POSTGRES_DIR: str({
    default: '.data/postgres',
    desc: 'Data folder of the embedded PostgreSQL, kept across restarts (git-ignored)',
    docs: 'development.md',
  }),

  // The roles a request switches to; the server never picks a role from a token.
  DATABASE_VISITOR: roleName({
    default: 'app_user',
    desc: 'The role a request with a verified token or API key switches to',
    docs: 'architecture.md',
  }),
  DATABASE_ANONYMOUS: roleName({
    default: 'app_anonymous',
    desc: 'The role a request without one switches to: no privilege on any table',
    docs: 'architecture.md',
  }),

  // The HTTP server. Loopback by default; set HOST=0.0.0.0 in a container.
  HOST: str({
    default: '127.0.0.1',
    desc: 'Where the API listens; `0.0.0.0` in a container',
    docs: 'production.md',
  }),
  PORT: port({ default: 5678, desc: "The API's port", docs: 'production.md' }),
  GRAPHIQL: bool({
    default: undefined,
    desc: 'Serve GraphiQL (Ruru) at `/graphiql`; unset: on in development only',
    docs: 'development.md',
  }),

  // Token verification: exactly one key source. In development with none set, a
  // random HS256 secret is generated and kept in .data/ (see npm run token).
  JWT_SECRET: str({
    default: undefined,
    desc: 'HS256 shared secret, at least 32 bytes; unset in development: generated into `.data/dev-jwt-secret`',
    docs: 'production.md',
  }),
  JWT_PUBLIC_KEY: str({
    default: undefined,
    desc: 'PEM public key: RSA (RS256) or EC P-256 (ES256)',
    docs: 'production.md',
  }),
  JWT_JWKS_URL: url({
    default: undefined,
    desc: "Your identity provider's JWKS (Auth0, Clerk, Keycloak, Cognito, Supabase…): keys by `kid`, cached, rotation-aware",
    docs: 'production.md',
  }),
  JWT_ISSUER: str({ default: undefined, desc: "The tokens' `iss`, checked when set", docs: 'production.md' }),
  JWT_AUDIENCE: str({
    default: undefined,
    desc: "The tokens' `aud`, checked when set",
    docs: 'production.md',
  }),
  JWT_CLOCK_TOLERANCE_SECONDS: num({ default: 5, desc: 'Leeway for `exp` and `nbf`', docs: 'production.md' }),
  JWT_TENANT_CLAIM: str({
    default: 'tenant_id',
    desc: 'Claim holding the tenant id: a namespaced name (`https://example.com/tenant_id`) or a dotted path (`app_metadata.tenant_id`)',
    docs: 'production.md',
  }),
  JWT_EMAIL_CLAIM: str({
    default: 'email',
    desc: "Claim holding the user's address, used only when verified",
    docs: 'people.md',
  }),
  JWT_EMAIL_VERIFIED_CLAIM: str({
    default: 'email_verified',
    desc: 'Claim that must be `true` (or the string `"true"`, as AWS Cognito sends it; nothing else) for the email claim to count',
    docs: 'people.md',
  }),

  // Abuse limits (OWASP API4). See docs/limits.md.
  MAX_BODY_BYTES: num({
    default: 100_000,
    desc: 'Largest request body; beyond: 413 `PAYLOAD_TOO_LARGE`',
    docs: 'limits.md',
  }),
  MAX_QUERY_TOKENS: num({
    default: 2_000,
    desc: 'Most tokens in one document; beyond: 400 `QUERY_TOO_LARGE`',
    docs: 'limits.md',
  }),
  MAX_QUERY_DEPTH: num({
    default: 10,
    desc: 'Deepest nesting; beyond: 400 `QUERY_TOO_DEEP`',
    docs: 'limits.md',
  }),
  MAX_QUERY_ALIASES: num({
    default: 15,
    desc: 'Most aliases in one document; beyond: 400 `TOO_MANY_ALIASES`',
    docs: 'limits.md',
  }),
  MAX_QUERY_DIRECTIVES: num({
    default: 10,
    desc: 'Most directives in one document; beyond: 400 `TOO_MANY_DIRECTIVES`',
    docs: 'limits.md',
  }),
  TRUSTED_DOCUMENTS: str({
    default: 'trusted-documents.json',
    desc: 'The manifest of operations production runs (`npm run codegen` writes it); `off`: any operation runs. Development runs any operation, and trusted documents too',
    docs: 'production.md',
  }),
  INTROSPECTION: bool({
    default: undefined,
    desc: 'Allow introspection (unset: in development, or when GraphiQL is on); off: 400 `INTROSPECTION_DISABLED`, and no error message carries a "Did you mean …?" hint',
    docs: 'limits.md',
  }),
  STATEMENT_TIMEOUT_MS: num({
    default: 5_000,
    desc: "The longest any statement runs (then `QUERY_TIMEOUT`), set transaction-locally on every request; an operation's own is shorter when its caller can pay for less",
    docs: 'limits.md',
  }),
  REQUEST_TIMEOUT_MS: num({
    default: 15_000,
    desc: "Longest a client may take to send its request (Node's `requestTimeout`)",
    docs: 'limits.md',
  }),
  DATABASE_CONNECT_TIMEOUT_MS: num({
    default: 2_000,
    desc: "Longest wait for a connection of the pool (in development's watch mode at least 15 s: a schema rebuild blocks the event loop for seconds); beyond: 503 `DATABASE_BUSY` for that request alone",
    docs: 'limits.md',
  }),

  // Page sizes, applied in the SQL: see docs/limits.md.
  DEFAULT_PAGE_SIZE: num({
    default: 100,
    desc: 'Rows a connection returns without `first`/`last` (or with `null`), applied as a `LIMIT` in the SQL',
    docs: 'limits.md',
  }),
  MAX_PAGE_SIZE: num({
    default: 1_000,
    desc: 'Largest `first`/`last` accepted; beyond: 400 `PAGE_SIZE_TOO_LARGE`',
    docs: 'limits.md',
  }),
  MAX_OFFSET: num({
    default: 10_000,
    desc: 'Largest `offset` accepted; beyond: 400 `OFFSET_TOO_LARGE` (page further with cursors)',
    docs: 'limits.md',
  }),
  MAX_GROUPS: num({
    default: 1_000,
    desc: 'Most groups one `groupedAggregates` may return; beyond: `TOO_MANY_GROUPS` (narrow it with `filter`)',
    docs: 'limits.md',
  }),
  // Cost points: every object in a response costs 1, every operation 10, every mutation 10 more.
  MAX_QUERY_COST: num({
    default: 5_000,
    desc: 'Largest cost one operation may request; beyond: 400 `QUERY_TOO_COMPLEX`',
    docs: 'limits.md',
  }),
  BUDGET_POINTS: num({
    default: 10_000,
    desc: "Cost points in each tenant's (user's, IP's) bucket; an operation it cannot pay for: 429 `RATE_LIMITED` with `Retry-After`; `0` turns budgets off",
    docs: 'limits.md',
  }),
  BUDGET_RESTORE_RATE: num({ default: 500, desc: 'Points a bucket regains per second', docs: 'limits.md' }),
  THROTTLE_DELAY_MS: num({
    default: 1_000,
    desc: 'Longest a 429 answer is held back (up to its `Retry-After`), so a client that ignores `Retry-After` cannot spin on refusals; `0`: at once',
    docs: 'limits.md',
  }),
  API_KEY_CACHE_SECONDS: num({
    default: 30,
    desc: 'How long a verified API key is trusted; a revoked key works at most this long',
    docs: 'people.md',
  }),
  AUDIT_RETENTION_DAYS: num({
    default: 400,
    desc: 'Audit events older than this are deleted by a daily job',
    docs: 'people.md',
  }),
  // Tenant portability: see docs/portability.md.
  EXPORT_DIR: str({
    default: '.data/exports',
    desc: 'Where tenant export archives are written, one folder per tenant (the worker writes, the API serves)',
    docs: 'portability.md',
  }),
  // Archives are signed with this key; imports verify it (src/portability/signing.ts).
  // In development, unset: a random key is generated and kept in .data/.
  EXPORT_SIGNING_KEY: str({
    default: undefined,
    desc: 'HMAC-SHA256 key (at least 32 bytes) that signs export archives; imports trust only archives it (or `EXPORT_VERIFY_KEYS`) verifies. Required in production for exports and imports, the same on every worker and wherever `tenant:import` runs; unset in development: generated into `.data/dev-export-signing-key`',
    docs: 'portability.md',
  }),
  EXPORT_VERIFY_KEYS: str({
    default: undefined,
    desc: 'Comma-separated earlier signing keys whose archives imports still trust: rotate by moving the old key here and setting a new `EXPORT_SIGNING_KEY`; drop it once its archives have expired or been imported',
    docs: 'portability.md',
  }),
  EXPORT_TTL_HOURS: num({
    default: 72,
    desc: 'How long an export can be downloaded; an hourly job then deletes its archive',
    docs: 'portability.md',
  }),
  OFFBOARDED_AUDIT_RETENTION_DAYS: num({
    default: 90,
    desc: "Days an off-boarded tenant's pseudonymised audit events are kept; `0`: deleted with the tenant",
    docs: 'portability.md',
  }),
  MEMBERSHIP_CACHE_SECONDS: num({
    default: 10,
    desc: 'How long a verified (user, tenant) pair is trusted for budgets and logs (never for data)',
    docs: 'limits.md',
  }),
  TENANT_CONCURRENCY: num({
    default: 4,
    desc: 'Operations of one tenant (user, IP) executing at once in this process; at most half of `PG_POOL_MAX`',
    docs: 'limits.md',
  }),
  TENANT_CONNECTIONS: num({
    default: 3,
    desc: "Pool connections one tenant's (user's, IP's) statements hold at once in this process, whatever the number of aliases, operations, exports or subscriptions; the rest wait inside the tenant's share (beyond `STATEMENT_TIMEOUT_MS` + `DATABASE_CONNECT_TIMEOUT_MS`: 503 `DATABASE_BUSY`); at most half of `PG_POOL_MAX`",
    docs: 'limits.md',
  }),
  DB_POINTS_PER_MS: num({
    default: 10,
    desc: 'Cost points charged per millisecond an operation holds database connections, when more than its estimate',
    docs: 'limits.md',
  }),
  MIN_STATEMENT_TIMEOUT_MS: num({
    default: 250,
    desc: 'The shortest statement timeout an operation gets, however few points its caller has left',
    docs: 'limits.md',
  }),
  TENANT_QUEUE: num({
    default: 16,
    desc: 'Operations of one tenant that may wait for a slot; beyond: 429 `CONCURRENCY_LIMITED`, `Retry-After: 1`',
    docs: 'limits.md',
  }),
  TENANT_QUEUE_TIMEOUT_MS: num({
    default: 2_000,
    desc: 'Longest an operation waits for a slot; beyond: 429 `CONCURRENCY_LIMITED`',
    docs: 'limits.md',
  }),
  MAX_RESPONSE_BYTES: num({
    default: 5_000_000,
    desc: 'Largest response, measured on the result before it is serialised; beyond: 400 `RESPONSE_TOO_LARGE`',
    docs: 'limits.md',
  }),
  REDIS_URL: url({
    default: undefined,
    desc: 'Share rate-limit budgets between API processes through Redis; unset (or while Redis does not answer): each process keeps its own in memory',
    docs: 'limits.md',
  }),
  // Subscriptions over websockets: see docs/realtime.md.
  MAX_SUBSCRIPTIONS_PER_CONNECTION: num({
    default: 20,
    desc: 'Open subscriptions one websocket may have; beyond: `SUBSCRIPTION_LIMIT`',
    docs: 'realtime.md',
  }),
  MAX_SUBSCRIPTIONS_PER_TENANT: num({
    default: 1_000,
    desc: 'Open subscriptions of one tenant in one API process; beyond: `SUBSCRIPTION_LIMIT`',
    docs: 'realtime.md',
  }),
  SUBSCRIPTION_BUFFER: num({
    default: 1_000,
    desc: 'Events held for a slow client before its subscription ends with `SUBSCRIPTION_INTERRUPTED`',
    docs: 'realtime.md',
  }),
  SUBSCRIPTION_READ_CONCURRENCY: num({
    default: undefined,
    desc: 'Subscription events whose rows are read at once, each as its subscriber on a pool connection; the others wait their turn, so subscriptions never take the whole pool from requests (unset: half of `PG_POOL_MAX`)',
    docs: 'realtime.md',
  }),
  WS_KEEPALIVE_SECONDS: num({
    default: 15,
    desc: 'Sockets are pinged this often; one that misses a pong is dropped',
    docs: 'realtime.md',
  }),
  WS_IDLE_SECONDS: num({
    default: 300,
    desc: 'A socket without a subscription for this long is closed (`1000`, `idle`)',
    docs: 'realtime.md',
  }),
  CORS_ORIGINS: str({
    default: '',
    desc: 'Comma-separated origins allowed to call the API from a browser',
    docs: 'production.md',
  }),

  // Jobs (graphile-worker) and mail (nodemailer). See docs/people.md, "Mail and the job queue".
  WORKER: str({
    choices: ['in-process', 'off'],
    default: 'in-process',
    desc: 'Run the job worker inside `npm start`, or not (then run `npm run worker`)',
    docs: 'people.md',
  }),
  WORKER_CONCURRENCY: num({ default: 2, desc: 'Jobs run at once per worker', docs: 'people.md' }),
  SMTP_URL: url({
    default: undefined,
    desc: 'Mail server (`smtp://` or `smtps://`, e.g. `smtps://user:pass@smtp.example.com`); unset: mail is written as `.eml` files into `MAIL_DIR`',
    docs: 'people.md',
  }),
  MAIL_FROM: str({
    default: 'tenantgraph <no-reply@localhost>',
    desc: 'Sender of outgoing mail',
    docs: 'people.md',
  }),
  MAIL_DIR: str({
    default: '.data/mail',
    desc: "Where mail goes as `.eml` files without `SMTP_URL`, readable by the server's user only (they hold live links)",
    docs: 'people.md',
  }),
  APP_URL: url({
    default: undefined,
    desc: "Your frontend: invitation mails link to `APP_URL/invitations/accept?secret=…` (unset: the example app's page on this server, `http://127.0.0.1:PORT/app`)",
    docs: 'people.md',
  }),

  // Operators' listener (src/observability/): Prometheus metrics and per-tenant usage. Off unless METRICS_PORT is set.
  METRICS_PORT: port({
    default: undefined,
    desc: 'Serve Prometheus `GET /metrics` and `GET /admin/tenants/top` on this port (unset: no metrics)',
    docs: 'observability.md',
  }),
  METRICS_HOST: str({
    default: '127.0.0.1',
    desc: 'Where the metrics listener binds; loopback keeps it off the network (`0.0.0.0` in a container, with the port kept off the public network)',
    docs: 'observability.md',
  }),
  ADMIN_TOKEN: str({
    default: undefined,
    desc: 'Bearer token of `/admin/tenants/top` (`npm run tenants:top`), at least 32 characters; needs `METRICS_PORT`; unset: that endpoint is off',
    docs: 'observability.md',
  }),
  METRICS_OPERATION_NAMES: str({
    default: '',
    desc: "Comma-separated operation names labelled as themselves in the metrics, besides the trusted documents' (others: `other`)",
    docs: 'observability.md',
  }),
  // Processes: see docs/production.md, "Many cores".
  API_PROCESSES: str({
    default: '1',
    desc: 'API processes sharing the port (`node:cluster`): a number, or `auto` for one per available core; more than one is for production (development runs one)',
    docs: 'production.md',
  }),
  SHUTDOWN_TIMEOUT_MS: num({
    default: 10_000,
    desc: 'Longest a graceful shutdown may take; then the process exits 1, naming what did not close',
    docs: 'production.md',
  }),

  LOG_LEVEL: str({
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    desc: "pino's level for the JSON log",
    docs: 'production.md',
  }),
  PG_POOL_MAX: num({
    default: 10,
    desc: "Connections in each API process's pool (behind PgBouncer: client connections to PgBouncer)",
    docs: 'production.md',
  }),
} as const;

export type Env = Omit<CleanedEnv<typeof specs>, 'APP_URL'> & { APP_URL: string };

/** APP_URL's default: the example app (served at /app/ in development) on this server's own PORT. */
export function defaultAppUrl(port: number): string {
  return `http://127.0.0.1:${port}/app`;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Loads ./.env into process.env when it exists (development convenience); real env vars win. */
export function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** API_PROCESSES as a count: `auto` is one per core this process may use; undefined when invalid. */
export function apiProcessCount(value: string): number | undefined {
  if (value === 'auto') return availableParallelism();
  return /^[1-9][0-9]*$/.test(value) ? Number(value) : undefined;
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // An empty variable (FOO= in .env or compose) means unset, not "the empty string".
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const env = cleanEnv(present, specs, {
    reporter: ({ errors }) => {
      const problems = Object.entries(errors).map(
        ([name, error]) => `  ${name}: ${(error as Error).message}`,
      );
      if (problems.length > 0) {
        throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
      }
    },
  });
  const keySources = [env.JWT_SECRET, env.JWT_PUBLIC_KEY, env.JWT_JWKS_URL].filter(Boolean).length;
  if (keySources > 1) {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL: set only one of them',
    );
  }
  if (keySources === 0 && env.NODE_ENV === 'production') {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL: one is required in production',
    );
  }
  if (env.JWT_SECRET && Buffer.byteLength(env.JWT_SECRET) < 32) {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET: must be at least 32 bytes (HS256 needs a key as long as its hash)',
    );
  }
  const shortKeys = [env.EXPORT_SIGNING_KEY, ...(env.EXPORT_VERIFY_KEYS ?? '').split(',')]
    .map((key) => key?.trim())
    .filter((key) => key && Buffer.byteLength(key) < 32);
  if (shortKeys.length) {
    throw new ConfigError(
      'Invalid configuration:\n  EXPORT_SIGNING_KEY, EXPORT_VERIFY_KEYS: each key must be at least 32 bytes (an HMAC-SHA256 key as long as its hash)',
    );
  }
  if (env.ADMIN_TOKEN !== undefined && (env.ADMIN_TOKEN.length < 32 || env.METRICS_PORT === undefined)) {
    throw new ConfigError(
      'Invalid configuration:\n  ADMIN_TOKEN: must be at least 32 characters, and needs METRICS_PORT (the admin endpoint is on the metrics listener)',
    );
  }
  if (env.DATABASE_URL && !env.AUTH_DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_DATABASE_URL: required when DATABASE_URL is set (the API connects as the authenticator role, never as the owner)',
    );
  }
  const processes = apiProcessCount(env.API_PROCESSES);
  if (processes === undefined)
    throw new ConfigError('Invalid configuration:\n  API_PROCESSES: must be a positive whole number or auto');
  if (processes > 1 && env.NODE_ENV === 'development') {
    throw new ConfigError(
      'Invalid configuration:\n  API_PROCESSES: more than one API process is for production (NODE_ENV=production); development runs one (watch mode and the web app need it)',
    );
  }
  const limits = [
    env.DEFAULT_PAGE_SIZE > env.MAX_PAGE_SIZE && 'DEFAULT_PAGE_SIZE: must not be larger than MAX_PAGE_SIZE',
    env.BUDGET_POINTS > 0 &&
      env.MAX_QUERY_COST > env.BUDGET_POINTS &&
      'MAX_QUERY_COST: must not be larger than BUDGET_POINTS (no operation could ever run)',
    env.BUDGET_POINTS > 0 &&
      env.BUDGET_RESTORE_RATE <= 0 &&
      'BUDGET_RESTORE_RATE: must be positive while budgets are on',
    // A tenant may hold at most half the pool: the other half always serves everyone else.
    (env.TENANT_CONCURRENCY < 1 || env.TENANT_CONCURRENCY > env.PG_POOL_MAX / 2) &&
      `TENANT_CONCURRENCY: must be between 1 and half of PG_POOL_MAX (${env.PG_POOL_MAX / 2})`,
    (env.TENANT_CONNECTIONS < 1 || env.TENANT_CONNECTIONS > env.PG_POOL_MAX / 2) &&
      `TENANT_CONNECTIONS: must be between 1 and half of PG_POOL_MAX (${env.PG_POOL_MAX / 2})`,
    env.DB_POINTS_PER_MS <= 0 && 'DB_POINTS_PER_MS: must be positive',
    (env.MIN_STATEMENT_TIMEOUT_MS < 1 || env.MIN_STATEMENT_TIMEOUT_MS > env.STATEMENT_TIMEOUT_MS) &&
      `MIN_STATEMENT_TIMEOUT_MS: must be between 1 and STATEMENT_TIMEOUT_MS (${env.STATEMENT_TIMEOUT_MS})`,
    env.SUBSCRIPTION_READ_CONCURRENCY !== undefined &&
      (env.SUBSCRIPTION_READ_CONCURRENCY < 1 || env.SUBSCRIPTION_READ_CONCURRENCY >= env.PG_POOL_MAX) &&
      `SUBSCRIPTION_READ_CONCURRENCY: must be at least 1 and below PG_POOL_MAX (${env.PG_POOL_MAX})`,
  ].filter(Boolean);
  if (limits.length > 0) throw new ConfigError(`Invalid configuration:\n  ${limits.join('\n  ')}`);
  return { ...env, APP_URL: env.APP_URL ?? defaultAppUrl(env.PORT) };
}

/**
 * The environment as a graphile preset: grafserv's host, port and GraphiQL, what
 * development adds, the schema's page sizes, and the `tenantgraph` scope (src/options.ts)
 * that the server's steps and the plugins read. graphile.config.ts and the server extend
 * the API's own preset (src/plugins/preset.ts) with it.
 */
export function presetFromEnv(env: Env): GraphileConfig.Preset {
  const development = env.NODE_ENV === 'development';
  const graphiql = env.GRAPHIQL ?? development;
  const tenantgraph: TenantgraphOptions = {
    roles: { visitor: env.DATABASE_VISITOR, anonymous: env.DATABASE_ANONYMOUS },
    claimNames: {
      tenant: env.JWT_TENANT_CLAIM,
      email: env.JWT_EMAIL_CLAIM,
      emailVerified: env.JWT_EMAIL_VERIFIED_CLAIM,
    },
    poolSize: env.PG_POOL_MAX,
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
  return {
    extends: [developmentPreset(development)],
    grafserv: { host: env.HOST, port: env.PORT, graphiql },
    schema: {
      tenantgraphPages: {
        defaultSize: env.DEFAULT_PAGE_SIZE,
        maxSize: env.MAX_PAGE_SIZE,
        maxOffset: env.MAX_OFFSET,
        maxGroups: env.MAX_GROUPS,
      },
    },
    tenantgraph,
  };
}
