// `npm run worker`: the job worker on its own (for WORKER=off on the API processes, or
// to run jobs on another machine). It needs a session connection to the database as
// the owner: DATABASE_URL directly, never through a transaction-mode PgBouncer. It is
// `npm start`'s job part (boot.ts), closed the same way: within SHUTDOWN_TIMEOUT_MS.
import { databaseResource, startJobs, startObservability } from '../boot.ts';
import { loadDotEnv, readEnv } from '../config.ts';
import { prepareDatabase } from '../database/migrations.ts';
import { loggerFor } from '../logger.ts';
import { closeWithin, onStopSignals } from '../shutdown.ts';
import { locateDatabaseOrExit } from './locate-database.ts';

loadDotEnv();
const env = readEnv();
const log = loggerFor(env);
const location = await locateDatabaseOrExit(env);
await prepareDatabase(location);
const metrics = await startObservability(env, log);
const jobs = await startJobs(env, log, location.ownerUrl, metrics?.observability);
log.info('worker running');

onStopSignals(log, async (signal) => {
  log.info(`${signal}: finishing running jobs, then stopping`);
  const { clean } = await closeWithin(
    [...jobs, ...(metrics ? [metrics.resource] : []), databaseResource(location)],
    env.SHUTDOWN_TIMEOUT_MS,
    log,
  );
  process.exit(clean ? 0 : 1);
});
