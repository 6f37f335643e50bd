// `npm start` (through main.ts): find or start the database, migrate it, serve the API,
// and run the job worker (WORKER=off leaves that to `npm run worker`). In development it
// also loads the demo data, rewrites schema.graphql, serves the example web app at /app/
// with its demo users (src/dev/dev-tools.ts), and prints ready-to-paste Authorization
// headers for a user in each demo tenant and for the invited newcomer.
//
// One process by default; with API_PROCESSES > 1 (production) src/cluster.ts runs the
// same parts across a primary and its API workers. Modules are imported when a part
// needs them, so each process loads only what it runs.
import cluster from 'node:cluster';
import { apiProcessCount, ConfigError, readEnv, type Env } from './config.ts';
import {
  databaseResource,
  logStartupFailure,
  prepareStartDatabase,
  startConfiguredApi,
  startJobs,
  startObservability,
} from './boot.ts';
import type { DevTools } from './dev/dev-tools.ts';
import { loggerFor, type Logger } from './logger.ts';
import type { ApiServer } from './server.ts';
import { closeWithin, onStopSignals, type Closable } from './shutdown.ts';

// For a person at a terminal, so plain text on stdout rather than a log line.
async function printWelcome(
  api: ApiServer,
  secret: string | undefined,
  tenantClaim: string,
  invitationPending: boolean,
  webAppPath: string | undefined,
) {
  const [{ GRAPHIQL_PATH, GRAPHQL_PATH }, { demoUserEntries }, { demoInvitation }, { mintDevToken }] =
    await Promise.all([
      import('./plugins/preset.ts'),
      import('./dev/dev-tools.ts'),
      import('./dev/demo-data.ts'),
      import('./dev/mint-token.ts'),
    ]);
  const lines = [`GraphQL:  ${api.url}${GRAPHQL_PATH}`, `GraphiQL: ${api.url}${GRAPHIQL_PATH}`];
  if (webAppPath) lines.push(`Web app:  ${api.url}${webAppPath} (examples/web: sign in as a demo user)`);
  if (secret) {
    lines.push('', "Paste one of these into GraphiQL's headers to act as that user:");
    for (const user of demoUserEntries(secret, tenantClaim)) {
      if (!user.tenant) continue;
      lines.push(
        `  ${user.email} (${user.role} of ${user.tenant}):`,
        `  {"Authorization": "Bearer ${user.token}"}`,
      );
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
      const page = demoUserEntries(secret, tenantClaim).find((user) => user.invitation)?.invitation;
      if (webAppPath && page)
        lines.push(`  Or in the web app: ${api.url}${page} (sign in as ${demoInvitation.name}).`);
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

async function runSingleProcess(env: Env, log: Logger) {
  const development = env.NODE_ENV === 'development';
  // In the order they close: the API first, the database last.
  let api: Closable | undefined;
  let metrics: Closable | undefined;
  let devTools: Closable | undefined;
  let jobs: Closable[] = [];
  let database: Closable | undefined;
  const resources = () =>
    [api, metrics, devTools, ...jobs, database].filter(
      (resource): resource is Closable => resource !== undefined,
    );

  onStopSignals(log, async (signal) => {
    log.info(`${signal}: finishing in-flight requests and jobs, then stopping`);
    const { clean } = await closeWithin(resources(), env.SHUTDOWN_TIMEOUT_MS, log);
    process.exit(clean ? 0 : 1);
  });

  try {
    const prepared = await prepareStartDatabase(
      env,
      log,
      (location) => (database = databaseResource(location)),
    );
    let tools: DevTools | undefined;
    let secret: string | undefined;
    if (development) {
      const [{ keySourceFor }, { startDevTools }] = await Promise.all([
        import('./auth/key-source.ts'),
        import('./dev/dev-tools.ts'),
      ]);
      const key = await keySourceFor(env);
      secret = key.kind === 'secret' ? key.secret : undefined;
      if (secret) {
        tools = await startDevTools({
          tokenSecret: secret,
          tenantClaim: env.JWT_TENANT_CLAIM,
          webApp: { hot: true },
        });
        devTools = { name: 'development tools', close: () => tools!.close() };
      }
    }
    const operators = await startObservability(env, log);
    metrics = operators?.resource;
    const server = await startConfiguredApi(env, log, {
      observability: operators?.observability,
      authenticatorUrl: prepared.location.authenticatorUrl,
      watchSuperuserUrl: prepared.watchSuperuserUrl,
      devTools: tools?.router,
    });
    api = { name: 'HTTP server and database pool', close: () => server.close() };
    if (env.WORKER === 'in-process')
      jobs = await startJobs(env, log, prepared.location.ownerUrl, operators?.observability);
    if (development) {
      const [{ writeFile }, { SCHEMA_FILE, schemaSDL }, { WEB_APP_PATH }] = await Promise.all([
        import('node:fs/promises'),
        import('./schema-file.ts'),
        import('./dev/dev-tools.ts'),
      ]);
      await writeFile(SCHEMA_FILE, schemaSDL(server.schema));
      await printWelcome(
        server,
        secret,
        env.JWT_TENANT_CLAIM,
        prepared.invitationPending,
        tools && WEB_APP_PATH,
      );
    } else {
      log.info({ url: server.url }, 'tenantgraph is ready');
    }
  } catch (error) {
    await logStartupFailure(log, error);
    await closeWithin(resources(), env.SHUTDOWN_TIMEOUT_MS, log);
    process.exit(1);
  }
}

async function main() {
  const env = readEnvOrExit();
  const log = loggerFor(env);
  const processes = apiProcessCount(env.API_PROCESSES)!;
  if (processes === 1) return runSingleProcess(env, log);
  const { runApiWorker, runPrimary } = await import('./cluster.ts');
  return cluster.isPrimary ? runPrimary(env, log, processes) : runApiWorker(env, log);
}

await main();
