// The parts `npm start` is made of: the database (found or started, migrated, demo data
// in development), the API server, and the job worker. start.ts runs them in one process;
// with API_PROCESSES > 1, cluster.ts runs the database and the job worker in the primary
// and the API in each worker. Everything only some configurations need (graphile-migrate,
// the embedded PostgreSQL's client, graphile-worker and nodemailer, the development tools)
// is imported when used, so an API worker never loads it.
import type { Env } from './config.ts';
import type { DatabaseLocation } from './database/location.ts';
import type { Logger } from './logger.ts';
import type { Observability } from './observability/observability.ts';
import type { ApiServer } from './server.ts';
import type { Closable } from './shutdown.ts';

export interface PreparedDatabase {
  location: DatabaseLocation;
  /** Development: the demo data holds an invitation nobody has answered yet. */
  invitationPending: boolean;
  /** Watch mode's superuser connection (development, with a superuser). */
  watchSuperuserUrl: string | undefined;
}

/** Finds or starts the database, migrates it, and loads the demo data in development. */
export async function prepareStartDatabase(
  env: Env,
  log: Logger,
  started: (location: DatabaseLocation) => void,
): Promise<PreparedDatabase> {
  const [
    { locateDatabase, onDatabase },
    { databaseNameOf, prepareDatabase },
    { isDatabaseUnavailable },
    { StartupError },
  ] = await Promise.all([
    import('./database/location.ts'),
    import('./database/migrations.ts'),
    import('./http/database-gate.ts'),
    import('./startup-error.ts'),
  ]);
  const development = env.NODE_ENV === 'development';
  const location = await locateDatabase(env, (line) => log.debug({ postgres: line.trim() }, 'postgres'));
  started(location);
  if (location.embedded && env.NODE_ENV === 'production') {
    log.warn(
      `NODE_ENV=production on the embedded PostgreSQL (${env.EMBEDDED_POSTGRES_DIR}): fine for a trial, not for customers' data. ` +
        'Set DATABASE_URL and AUTH_DATABASE_URL to a managed PostgreSQL with backups (docs/production.md, "First run").',
    );
  }
  const outcome = await prepareDatabase(location, (level, message) => log.debug({ level }, message)).catch(
    (error: unknown) => {
      // An unreachable database is an operator's problem to fix, not a bug: one clear line, no stack.
      throw isDatabaseUnavailable(error)
        ? new StartupError(
            `Cannot reach the database as the owner role to migrate it: ${(error as Error).message}`,
          )
        : error;
    },
  );
  log.info(
    { node: process.version },
    `database ${outcome} (${location.embedded ? `embedded PostgreSQL on port ${new URL(location.ownerUrl).port}` : 'DATABASE_URL'})`,
  );
  const { invitationPending } = development
    ? await (await import('./dev/demo-data.ts')).seedDemoData(location.ownerUrl)
    : { invitationPending: false };
  // In development the API follows migrations as they happen (db:watch, db:migrate):
  // PostGraphile's watch mode installs an event trigger, which needs a superuser.
  const watchSuperuserUrl =
    development && location.rootUrl
      ? onDatabase(location.rootUrl, databaseNameOf(location.ownerUrl))
      : undefined;
  return { location, invitationPending, watchSuperuserUrl };
}

export interface StartApiOptions {
  authenticatorUrl: string;
  watchSuperuserUrl?: string | undefined;
  devTools?: import('express').Router | undefined;
  /** The operators' listener of this process (METRICS_PORT), when configured. */
  observability?: Observability | undefined;
}

/** The API server as the environment configures it. */
export async function startConfiguredApi(
  env: Env,
  log: Logger,
  options: StartApiOptions,
): Promise<ApiServer> {
  const [{ createTokenVerifier }, { keySourceFor }, { presetFromEnv }, { startApiServer }] =
    await Promise.all([
      import('./auth/verify-token.ts'),
      import('./auth/key-source.ts'),
      import('./config.ts'),
      import('./server.ts'),
    ]);
  const key = await keySourceFor(env);
  return startApiServer({
    preset: presetFromEnv(env),
    authenticatorUrl: options.authenticatorUrl,
    verifyToken: createTokenVerifier({
      key,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
    }),
    logger: log,
    watch: options.watchSuperuserUrl ? { superuserUrl: options.watchSuperuserUrl } : undefined,
    devTools: options.devTools,
    observability: options.observability,
  });
}

/** The job worker and its mailer (WORKER=in-process), as resources to close in this order. */
export async function startJobs(
  env: Env,
  log: Logger,
  ownerUrl: string,
  observability?: Observability,
): Promise<Closable[]> {
  const [{ createMailer }, { portabilityOptions, startWorker }, { logsAcceptLinks }] = await Promise.all([
    import('./mail/mailer.ts'),
    import('./jobs/worker.ts'),
    import('./jobs/send-invitation-email.ts'),
  ]);
  const mailer = createMailer({ smtpUrl: env.SMTP_URL, mailbox: env.MAIL_DIR, from: env.MAIL_FROM }, log);
  try {
    const worker = await startWorker({
      connectionString: ownerUrl,
      concurrency: env.WORKER_CONCURRENCY,
      mailer,
      appUrl: env.APP_URL,
      logAcceptLinks: logsAcceptLinks(env),
      auditRetentionDays: env.AUDIT_RETENTION_DAYS,
      portability: portabilityOptions(env),
      logger: log,
    });
    observability?.watchWorker(worker);
    return [
      { name: 'job worker', close: () => worker.stop() },
      { name: 'mailer', close: () => mailer.close() },
    ];
  } catch (error) {
    mailer.close();
    throw error;
  }
}

/**
 * The operators' listener (METRICS_PORT, src/observability/), as a resource to close after
 * the API. With API_PROCESSES > 1 every process has its own registry and top-N, so each
 * listens on a port of its own: API process i on METRICS_PORT + i - 1, the primary (the job
 * worker's metrics) on METRICS_PORT + API_PROCESSES (docs/production.md, "Many cores").
 */
export async function startObservability(
  env: Env,
  log: Logger,
  portOffset = 0,
): Promise<{ observability: Observability; resource: Closable } | undefined> {
  const { observabilityFromEnv } = await import('./observability/from-env.ts');
  const observability = await observabilityFromEnv(env, log, portOffset);
  return (
    observability && {
      observability,
      resource: { name: 'metrics listener', close: () => observability.close() },
    }
  );
}

/** The embedded PostgreSQL (when this process started it), as the last resource to close. */
export function databaseResource(location: DatabaseLocation): Closable {
  return {
    name: location.embedded ? 'embedded PostgreSQL' : 'database location',
    close: () => location.stop(),
  };
}

/** How a start-up failure is logged: one line for what an operator fixes, a stack otherwise. */
export async function logStartupFailure(log: Logger, error: unknown): Promise<void> {
  const [{ ConfigError }, { StartupError }] = await Promise.all([
    import('./config.ts'),
    import('./startup-error.ts'),
  ]);
  const expected = error instanceof ConfigError || error instanceof StartupError;
  log.fatal(expected ? (error as Error).message : { err: error }, expected ? undefined : 'start-up failed');
}
