// One API process per core (API_PROCESSES > 1, production): node:cluster.
//
// The primary prepares the database once (the embedded PostgreSQL, migrations), forks
// the API workers, and runs the job worker itself, so there is exactly one job worker
// and the API workers load neither graphile-worker nor graphile-migrate. Each API worker
// builds its own server (pool, database gate, budgets, bulkheads: all per process) and
// shares the port through the primary, which hands out connections in turn.
//
// - The primary sends each worker the authenticator's connection string over IPC (it may
//   hold the embedded cluster's generated password: never in arguments or environment).
// - A worker that fails before the first start is complete fails the start (exit 1),
//   as one process would. A worker that dies later is restarted, after 1 s, then 2, 4 ...
//   up to 30 s while it keeps dying; the others serve meanwhile.
// - SIGTERM or SIGINT: every worker drains its in-flight requests at once, then the job
//   worker stops, then the embedded PostgreSQL. After SHUTDOWN_TIMEOUT_MS the primary
//   kills what is left and exits 1, naming it.
import cluster, { type Worker } from 'node:cluster';
import type { Env } from './config.ts';
import {
  databaseResource,
  logStartupFailure,
  prepareStartDatabase,
  startConfiguredApi,
  startJobs,
  startObservability,
} from './boot.ts';
import type { Logger } from './logger.ts';
import { closeWithin, onStopSignals, type Closable } from './shutdown.ts';

type ToWorker = { type: 'serve'; authenticatorUrl: string; index: number } | { type: 'shutdown' };
// A worker asks for its settings once it listens for them: a message sent earlier would be lost.
type FromWorker = { type: 'waiting' } | { type: 'ready'; url: string };

const FIRST_RESTART_DELAY_MS = 1_000;
const LONGEST_RESTART_DELAY_MS = 30_000;
/** A worker up this long has recovered: its next failure restarts it after the first delay again. */
const RECOVERED_AFTER_MS = 60_000;

export async function runPrimary(env: Env, log: Logger, count: number): Promise<void> {
  let database: Closable | undefined;
  let metrics: Closable | undefined;
  let jobs: Closable[] = [];
  let stopping = false;
  let started = false;
  // Slot i holds API process i (1-based in the log), whatever its current pid.
  const slots: Array<{
    worker: Worker;
    readyAt: number | undefined;
    delayMs: number;
    restart?: NodeJS.Timeout;
  }> = [];

  const stopWorkers = (): Closable[] =>
    slots.map((slot, index) => {
      clearTimeout(slot.restart);
      const { worker } = slot;
      const exited = worker.isDead()
        ? Promise.resolve()
        : new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      if (!worker.isDead() && worker.isConnected()) worker.send({ type: 'shutdown' } satisfies ToWorker);
      return { name: `API process ${index + 1} (pid ${worker.process.pid})`, close: () => exited };
    });
  const stopAll = async () => {
    stopping = true;
    const { clean } = await closeWithin(
      [...stopWorkers(), ...jobs, ...(metrics ? [metrics] : []), ...(database ? [database] : [])],
      env.SHUTDOWN_TIMEOUT_MS,
      log,
    );
    for (const { worker } of slots) if (!worker.isDead()) worker.process.kill('SIGKILL');
    return clean;
  };

  onStopSignals(log, async (signal) => {
    log.info(
      `${signal}: ${count} API processes finish their in-flight requests, then the jobs and the database stop`,
    );
    process.exit((await stopAll()) ? 0 : 1);
  });

  const fork = (index: number, authenticatorUrl: string) =>
    new Promise<string>((resolve, reject) => {
      const worker = cluster.fork();
      const slot = slots[index] ?? { worker, readyAt: undefined, delayMs: FIRST_RESTART_DELAY_MS };
      slots[index] = Object.assign(slot, { worker, readyAt: undefined });
      worker.on('message', (message: FromWorker) => {
        if (message?.type === 'waiting')
          worker.send({ type: 'serve', authenticatorUrl, index } satisfies ToWorker);
        if (message?.type !== 'ready') return;
        slot.readyAt = Date.now();
        resolve(message.url);
      });
      worker.once('exit', (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (slot.readyAt === undefined)
          reject(new Error(`API process ${index + 1} exited with ${how} before it was ready`));
        // Before the first start is complete, a failure fails the start (see runPrimary's catch).
        if (stopping || !started) return;
        if (slot.readyAt !== undefined && Date.now() - slot.readyAt >= RECOVERED_AFTER_MS)
          slot.delayMs = FIRST_RESTART_DELAY_MS;
        log.error(
          `API process ${index + 1} (pid ${worker.process.pid}) exited with ${how}; restarting it in ${slot.delayMs / 1000} s`,
        );
        slot.restart = setTimeout(() => {
          fork(index, authenticatorUrl).then(
            () => log.info(`API process ${index + 1} is serving again`),
            () => {},
          );
        }, slot.delayMs);
        slot.delayMs = Math.min(slot.delayMs * 2, LONGEST_RESTART_DELAY_MS);
      });
    });

  try {
    const prepared = await prepareStartDatabase(
      env,
      log,
      (location) => (database = databaseResource(location)),
    );
    // Made once here (the development secret file, when no key is configured), read by every worker.
    await (await import('./auth/key-source.ts')).keySourceFor(env);
    const urls = await Promise.all(
      Array.from({ length: count }, (_, index) => fork(index, prepared.location.authenticatorUrl)),
    );
    started = true;
    // The primary's own listener: the job worker's metrics, after the API processes' ports.
    const operators = await startObservability(env, log, count);
    metrics = operators?.resource;
    if (env.WORKER === 'in-process')
      jobs = await startJobs(env, log, prepared.location.ownerUrl, operators?.observability);
    log.info(
      { url: urls[0], processes: count, pids: slots.map(({ worker }) => worker.process.pid) },
      'tenantgraph is ready',
    );
  } catch (error) {
    await logStartupFailure(log, error);
    await stopAll();
    process.exit(1);
  }
}

export async function runApiWorker(env: Env, log: Logger): Promise<void> {
  let api: Closable | undefined;
  let metrics: Closable | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const { clean } = await closeWithin(
        [api, metrics].filter((resource): resource is Closable => resource !== undefined),
        env.SHUTDOWN_TIMEOUT_MS,
        log,
      );
      process.exit(clean ? 0 : 1);
    })());
  // The primary says when to stop; a signal to this process alone (say, a terminal's
  // Ctrl-C, which reaches every process of the group) drains it the same way.
  onStopSignals(log, stop);
  // The primary is gone: nobody hands out connections any more.
  process.on('disconnect', () => void stop());
  process.on('message', (message: ToWorker) => {
    if (message?.type === 'shutdown') void stop();
    if (message?.type !== 'serve' || api || stopping) return;
    startObservability(env, log, message.index)
      .then((operators) => {
        metrics = operators?.resource;
        return startConfiguredApi(env, log, {
          authenticatorUrl: message.authenticatorUrl,
          observability: operators?.observability,
        });
      })
      .then(
        (server) => {
          api = { name: 'HTTP server and database pool', close: () => server.close() };
          process.send?.({ type: 'ready', url: server.url } satisfies FromWorker);
        },
        async (error: unknown) => {
          await logStartupFailure(log, error);
          process.exit(1);
        },
      );
  });
  process.send?.({ type: 'waiting' } satisfies FromWorker);
}
