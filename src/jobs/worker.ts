// The job queue: graphile-worker, which keeps its jobs in PostgreSQL, so a job queued by
// a SQL function commits or rolls back with the rest of its transaction. `npm start`
// runs a worker in its own process by default (WORKER=off turns it off); `npm run
// worker` runs one on its own. A worker needs a session connection (LISTEN/NOTIFY and
// advisory locks): give it DATABASE_URL directly, never a transaction-mode PgBouncer.
import { Logger as WorkerLogger, run, runMigrations, type Runner } from 'graphile-worker';
import pg from 'pg';
import type { Env } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { deleteOldAuditEvents } from './delete-old-audit-events.ts';
import { eraseTenantTask } from './erase-tenant.ts';
import { signingKeysFor } from '../portability/signing.ts';
import { deleteExpiredExportsTask, exportTenantTask } from './export-tenant.ts';
import { sendInvitationEmail } from './send-invitation-email.ts';

export interface WorkerOptions {
  /** The owner's connection: it owns the graphile_worker schema and reads past RLS. */
  connectionString: string;
  concurrency: number;
  mailer: Mailer;
  appUrl: string;
  /** Log the accept links of mails written as .eml files: development only (a link is a credential). */
  logAcceptLinks?: boolean;
  /** Audit events older than this many days are deleted, daily. */
  auditRetentionDays: number;
  /** Tenant exports (EXPORT_DIR, EXPORT_TTL_HOURS) and off-boarding (OFFBOARDED_AUDIT_RETENTION_DAYS). */
  portability: {
    exportDir: string;
    exportTtlHours: number;
    offboardedAuditRetentionDays: number;
    /** EXPORT_SIGNING_KEY (in development, the generated one), read when an export runs. */
    signingKey: () => Promise<Buffer>;
  };
  logger: Logger;
}

// graphile-worker logs whole jobs, payloads included: only the job's identity reaches our
// log (payloads hold no secret, but a DBA's task might put personal data there).
function withoutPayload(meta: Record<string, unknown> | undefined) {
  const job = meta?.job as { id?: string; task_identifier?: string; attempts?: number } | undefined;
  return job ? { ...meta, job: { id: job.id, task: job.task_identifier, attempts: job.attempts } } : meta;
}

/** graphile-worker's log lines, into ours. */
export function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const line = { ...scope, ...withoutPayload(meta) };
    if (level === 'error') logger.error(line, message);
    else if (level === 'warning') logger.warn(line, message);
    else if (level === 'info') logger.info(line, message);
    else logger.debug(line, message);
  });
}

// Our own pool, not graphile-worker's: a connection it holds idle when PostgreSQL goes
// away (say, the embedded one stopping at shutdown) must be a logged warning, not an
// unhandled 'error' event that ends the process; and we end it when we are done.
function workerPool(connectionString: string, max: number, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', (error) => logger.warn({ err: error }, 'job queue connection lost'));
  // A checked-out client can fail too (graphile-worker warns about a pool without this).
  pool.on('connect', (client) =>
    client.on('error', (error) => logger.warn({ err: error }, 'job queue connection lost')),
  );
  return pool;
}

/** Creates or updates the graphile_worker schema (the migrations are graphile-worker's own). */
export async function installJobQueue(connectionString: string, logger: Logger): Promise<void> {
  const pgPool = workerPool(connectionString, 1, logger);
  try {
    await runMigrations({ pgPool, logger: workerLogger(logger) });
  } finally {
    await pgPool.end();
  }
}

/** The worker's portability settings, from the environment. */
export function portabilityOptions(
  env: Pick<
    Env,
    | 'NODE_ENV'
    | 'EXPORT_DIR'
    | 'EXPORT_TTL_HOURS'
    | 'OFFBOARDED_AUDIT_RETENTION_DAYS'
    | 'EXPORT_SIGNING_KEY'
    | 'EXPORT_VERIFY_KEYS'
  >,
): WorkerOptions['portability'] {
  return {
    exportDir: env.EXPORT_DIR,
    exportTtlHours: env.EXPORT_TTL_HOURS,
    offboardedAuditRetentionDays: env.OFFBOARDED_AUDIT_RETENTION_DAYS,
    signingKey: async () => (await signingKeysFor(env)).signing,
  };
}

export interface Worker {
  /** Finishes the jobs running, then releases the worker's connections. */
  stop(): Promise<void>;
  /** For the metrics (src/observability/job-metrics.ts): graphile-worker's events, the worker's pool, our task names. */
  events: Runner['events'];
  pool: pg.Pool;
  tasks: readonly string[];
}

export const TASKS = ['send_invitation_email', 'delete_old_audit_events'] as const;

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const pgPool = workerPool(options.connectionString, options.concurrency + 2, options.logger);
  let runner: Runner;
  try {
    runner = await startRunner(options, pgPool);
  } catch (error) {
    await pgPool.end();
    throw error;
  }
  return {
    async stop() {
      await runner.stop();
      await pgPool.end();
    },
    events: runner.events,
    pool: pgPool,
    tasks: TASKS,
  };
}

function startRunner(options: WorkerOptions, pgPool: pg.Pool): Promise<Runner> {
  return run({
    pgPool,
    concurrency: options.concurrency,
    // Our own SIGTERM handling stops the worker after the HTTP server has drained.
    noHandleSignals: true,
    // Daily at 03:17; a run missed while no worker was up is caught up once (fill 1 day).
    crontab: [
      '17 3 * * * delete_old_audit_events ?fill=1d',
      '7 * * * * delete_expired_exports ?fill=1h',
    ].join('\n'),
    logger: workerLogger(options.logger),
    taskList: {
      // The names are TASKS.
      send_invitation_email: sendInvitationEmail({
        mailer: options.mailer,
        appUrl: options.appUrl,
        logger: options.logger,
        logAcceptLinks: options.logAcceptLinks ?? false,
      }),
      delete_old_audit_events: deleteOldAuditEvents(options.auditRetentionDays),
      export_tenant: exportTenantTask({
        exportDir: options.portability.exportDir,
        ttlHours: options.portability.exportTtlHours,
        signingKey: options.portability.signingKey,
        logger: options.logger,
      }),
      delete_expired_exports: deleteExpiredExportsTask({
        exportDir: options.portability.exportDir,
        logger: options.logger,
      }),
      erase_tenant: eraseTenantTask({
        exportDir: options.portability.exportDir,
        auditRetentionDays: options.portability.offboardedAuditRetentionDays,
        logger: options.logger,
      }),
    },
  });
}
