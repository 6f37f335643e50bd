// `npm start` (through main.ts): find or start the database, migrate it, serve the API,
// and run the job worker (WORKER=off leaves that to `npm run worker`). In development it
// also loads the demo data, rewrites schema.graphql, serves the example web app at /app/
// with its demo users (src/dev/dev-tools.ts), and prints ready-to-paste Authorization
// headers for a user in each demo tenant and for the invited newcomer.
import { writeFile } from 'node:fs/promises';
import { createTokenVerifier } from './auth/verify-token.ts';
import { keySourceFor } from './auth/key-source.ts';
import { ConfigError, readEnv } from './config.ts';
import { locateDatabase, onDatabase, type DatabaseLocation } from './database/location.ts';
import { databaseNameOf, prepareDatabase } from './database/migrations.ts';
import { demoInvitation, seedDemoData } from './dev/demo-data.ts';
import { demoUserEntries, startDevTools, WEB_APP_PATH, type DevTools } from './dev/dev-tools.ts';
import { mintDevToken } from './dev/mint-token.ts';
import { isDatabaseUnavailable } from './http/database-gate.ts';
import { portabilityOptions, startWorker, type Worker } from './jobs/worker.ts';
import { loggerFor } from './logger.ts';
import { createMailer, type Mailer } from './mail/mailer.ts';
import { observabilityFromEnv } from './observability/from-env.ts';
import type { Observability } from './observability/observability.ts';
import { GRAPHIQL_PATH, GRAPHQL_PATH } from './plugins/preset.ts';
import { SCHEMA_FILE, schemaSDL } from './schema-file.ts';
import { serverOptionsFromEnv } from './server-options.ts';
import { startApiServer, StartupError, type ApiServer } from './server.ts';

// For a person at a terminal, so plain text on stdout rather than a log line.
function printWelcome(api: ApiServer, secret: string | undefined, tenantClaim: string, invitationPending: boolean, webAppPath: string | undefined) {
  const lines = [`GraphQL:  ${api.url}${GRAPHQL_PATH}`, `GraphiQL: ${api.url}${GRAPHIQL_PATH}`];
  if (webAppPath) lines.push(`Web app:  ${api.url}${webAppPath} (examples/web: sign in as a demo user)`);
  if (secret) {
    lines.push('', 'Paste one of these into GraphiQL\'s headers to act as that user:');
    for (const user of demoUserEntries(secret, tenantClaim)) {
      lines.push(`  ${user.email} (${user.role} of ${user.tenant}):`, `  {"Authorization": "Bearer ${user.token}"}`);
    }
    if (invitationPending) {
      const { email, tenant, userId, secret: invitationSecret } = demoInvitation;
      const token = mintDevToken(secret, { userId, email, emailVerified: true }, { tenantClaim });
      lines.push(
        '',
        `${email} has no account yet and a pending invitation to ${tenant}. As them:`,
        `  {"Authorization": "Bearer ${token}"}`,
        `  mutation { acceptInvitation(input: { secret: "${invitationSecret}" }) { membership { role } } }`,
        `  then add "X-Tenant": "${tenant}" to the headers to act in ${tenant}.`,
      );
    }
    lines.push('', 'More: npm run token -- --help');
  }
  process.stdout.write(`\ntenantgraph is ready\n\n${lines.map((line) => `  ${line}`).join('\n')}\n\n`);
}

function readEnvOrExit() {
  try {
    return readEnv();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

async function main() {
  const env = readEnvOrExit();
  const log = loggerFor(env);
  const development = env.NODE_ENV === 'development';
  let location: DatabaseLocation | undefined;
  let api: ApiServer | undefined;
  let worker: Worker | undefined;
  let mailer: Mailer | undefined;
  let devTools: DevTools | undefined;
  let observability: Observability | undefined;

  const shutdown = async (signal: string) => {
    log.info(`${signal}: finishing in-flight requests and jobs, then stopping`);
    await api?.close();
    await devTools?.close();
    await worker?.stop();
    mailer?.close();
    await observability?.close();
    await location?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    location = await locateDatabase(env, (line) => log.debug({ postgres: line.trim() }, 'postgres'));
    if (location.embedded && env.NODE_ENV === 'production') {
      log.warn(
        `NODE_ENV=production on the embedded PostgreSQL (${env.EMBEDDED_POSTGRES_DIR}): fine for a trial, not for customers' data. ` +
          'Set DATABASE_URL and AUTH_DATABASE_URL to a managed PostgreSQL with backups (README, "First run in production").',
      );
    }
    const outcome = await prepareDatabase(location, (level, message) => log.debug({ level }, message)).catch((error: unknown) => {
      // An unreachable database is an operator's problem to fix, not a bug: one clear line, no stack.
      throw isDatabaseUnavailable(error) ? new StartupError(`Cannot reach the database as the owner role to migrate it: ${(error as Error).message}`) : error;
    });
    log.info({ node: process.version }, `database ${outcome} (${location.embedded ? `embedded PostgreSQL on port ${env.EMBEDDED_POSTGRES_PORT}` : 'DATABASE_URL'})`);
    const { invitationPending } = development ? await seedDemoData(location.ownerUrl) : { invitationPending: false };

    const key = await keySourceFor(env);
    const secret = key.kind === 'secret' ? key.secret : undefined;
    observability = await observabilityFromEnv(env, log);
    if (development && secret) devTools = await startDevTools({ tokenSecret: secret, tenantClaim: env.JWT_TENANT_CLAIM, webApp: { hot: true } });
    api = await startApiServer({
      ...serverOptionsFromEnv(env),
      authenticatorUrl: location.authenticatorUrl,
      verifyToken: createTokenVerifier({ key, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS }),
      logger: log,
      // In development the API follows migrations as they happen (db:watch, db:migrate):
      // PostGraphile's watch mode installs an event trigger, which needs a superuser.
      watch: development && location.rootUrl ? { superuserUrl: onDatabase(location.rootUrl, databaseNameOf(location.ownerUrl)) } : undefined,
      devTools: devTools?.router,
      observability,
    });
    if (env.WORKER === 'in-process') {
      mailer = createMailer({ smtpUrl: env.SMTP_URL, mailbox: env.MAIL_DIR, from: env.MAIL_FROM }, log);
      worker = await startWorker({ connectionString: location.ownerUrl, concurrency: env.WORKER_CONCURRENCY, mailer, appUrl: env.APP_URL, auditRetentionDays: env.AUDIT_RETENTION_DAYS, portability: portabilityOptions(env), logger: log });
      observability?.watchWorker(worker);
    }
    if (development) {
      await writeFile(SCHEMA_FILE, schemaSDL(api.schema));
      printWelcome(api, secret, env.JWT_TENANT_CLAIM, invitationPending, devTools && WEB_APP_PATH);
    } else {
      log.info({ url: api.url }, 'tenantgraph is ready');
    }
  } catch (error) {
    const expected = error instanceof ConfigError || error instanceof StartupError;
    log.fatal(expected ? (error as Error).message : { err: error }, expected ? undefined : 'start-up failed');
    await api?.close();
    await devTools?.close();
    await worker?.stop();
    mailer?.close();
    await observability?.close();
    await location?.stop();
    process.exit(1);
  }
}

await main();
