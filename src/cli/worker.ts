// `npm run worker`: the job worker on its own (for WORKER=off on the API processes, or
// to run jobs on another machine). It needs a session connection to the database as
// the owner: DATABASE_URL directly, never through a transaction-mode PgBouncer.
import { loadDotEnv, readEnv } from '../config.ts';
import { locateDatabase } from '../database/location.ts';
import { prepareDatabase } from '../database/migrations.ts';
import { portabilityOptions, startWorker, type Worker } from '../jobs/worker.ts';
import { loggerFor } from '../logger.ts';
import { createMailer } from '../mail/mailer.ts';
import { observabilityFromEnv } from '../observability/from-env.ts';

loadDotEnv();
const env = readEnv();
const log = loggerFor(env);
const location = await locateDatabase(env);
await prepareDatabase(location);
const mailer = createMailer({ smtpUrl: env.SMTP_URL, mailbox: env.MAIL_DIR, from: env.MAIL_FROM }, log);
const worker: Worker = await startWorker({
  connectionString: location.ownerUrl,
  concurrency: env.WORKER_CONCURRENCY,
  mailer,
  appUrl: env.APP_URL,
  auditRetentionDays: env.AUDIT_RETENTION_DAYS,
  portability: portabilityOptions(env),
  logger: log,
});
const observability = await observabilityFromEnv(env, log);
observability?.watchWorker(worker);
log.info('worker running');

const stop = async (signal: string) => {
  log.info(`${signal}: finishing running jobs, then stopping`);
  await worker.stop();
  mailer.close();
  await observability?.close();
  await location.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
