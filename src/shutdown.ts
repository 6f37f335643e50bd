// Graceful shutdown with a deadline. What `npm start` runs is closed in order: the HTTP
// server first (in-flight requests finish while the database is still there), the job
// worker, mail, and the embedded PostgreSQL last. A resource that never closes (a job
// worker reconnecting to an embedded cluster whose data folder was deleted kept a
// SIGTERM waiting for minutes) must not keep the process alive: after SHUTDOWN_TIMEOUT_MS
// the process exits anyway, naming what it could not close.
import type { Logger } from './logger.ts';

export interface Closable {
  /** What the log calls it: "HTTP server and database pool", "job worker", ... */
  name: string;
  close(): Promise<void> | void;
}

export interface ShutdownOutcome {
  /** Closed in time and without an error. */
  clean: boolean;
  /** Not closed when the deadline passed: the one closing then and those not reached. */
  unclosed: string[];
  /** Closed with an error. */
  failed: string[];
}

/** Closes each resource in turn; gives up on the rest when `deadlineMs` has passed. */
export async function closeWithin(
  resources: Closable[],
  deadlineMs: number,
  logger: Logger,
): Promise<ShutdownOutcome> {
  const failed: string[] = [];
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), deadlineMs);
  });
  const closeAll = async () => {
    for (; next < resources.length; next += 1) {
      const resource = resources[next]!;
      try {
        await resource.close();
      } catch (error) {
        failed.push(resource.name);
        logger.error({ err: error }, `shutdown: closing the ${resource.name} failed`);
      }
    }
    return 'closed' as const;
  };
  const outcome = await Promise.race([closeAll(), deadline]);
  clearTimeout(timer);
  const unclosed = outcome === 'deadline' ? resources.slice(next).map((resource) => resource.name) : [];
  if (unclosed.length > 0) {
    logger.error(
      { unclosed },
      `shutdown: not closed after SHUTDOWN_TIMEOUT_MS (${deadlineMs} ms): ${unclosed.join(', ')}; exiting anyway`,
    );
  }
  return { clean: unclosed.length === 0 && failed.length === 0, unclosed, failed };
}

/**
 * Runs `shutdown` on the first SIGTERM or SIGINT. A second signal (Ctrl-C again) exits at
 * once: the person pressing it has chosen not to wait.
 */
export function onStopSignals(logger: Logger, shutdown: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without finishing`);
      process.exit(1);
    }
    stopping = true;
    void shutdown(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

/** Closes each resource in turn, first to last; the first error stops and is thrown. */
export async function closeInOrder(resources: readonly Closable[]): Promise<void> {
  for (const resource of resources) await resource.close();
}
