// The job queue as the metrics see it: attempts that ended (graphile-worker's events),
// and the jobs waiting, read from graphile-worker's table on each scrape.
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Metrics } from './metrics.ts';

export interface ObservedWorker {
  /** graphile-worker's runner events. */
  events: EventEmitter;
  /** The worker's pool, as the owner role (graphile_worker's tables are not the API's). */
  pool: pg.Pool;
  /** Our task names: the only values of the task label. */
  tasks: readonly string[];
}

const QUEUE_SQL = `
  select count(*) filter (where is_available and run_at <= now())::int as ready,
         count(*) filter (where is_available and run_at > now())::int as scheduled,
         count(*) filter (where locked_at is not null)::int as running,
         count(*) filter (where locked_at is null and attempts >= max_attempts)::int as failed
  from graphile_worker._private_jobs`;

export function watchJobs(worker: ObservedWorker, metrics: Metrics): () => Promise<Record<string, number>> {
  const known = new Set(worker.tasks);
  const task = (job: { task_identifier?: string }) =>
    job.task_identifier && known.has(job.task_identifier) ? job.task_identifier : 'other';
  worker.events.on('job:success', ({ job }) => metrics.observeJob(task(job), 'success'));
  worker.events.on('job:error', ({ job }) => metrics.observeJob(task(job), 'error'));
  worker.events.on('job:failed', ({ job }) => metrics.observeJob(task(job), 'failed'));
  return async () => (await worker.pool.query<Record<string, number>>(QUEUE_SQL)).rows[0]!;
}
