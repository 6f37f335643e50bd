// graphile-migrate's commands, each run in a worker thread of its own.
//
// graphile-migrate keeps its pools alive after a command (200 ms) and calls process.exit(1)
// when one of them sees an error, say the database restarting later; its only way to close
// them early is a private module (dist/pg.js). In a worker thread, process.exit ends the
// worker, not the API, and terminating the worker once the command is done closes its
// connections: nothing of graphile-migrate outlives the command.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Settings } from 'graphile-migrate';

/** graphile-migrate's settings without a logger (the worker makes one): plain data. */
export type MigrateSettings = Omit<Settings, 'logger'>;
export type MigrationLog = (level: string, message: string) => void;

export type MigrateCommand =
  | { command: 'migrate' }
  | { command: 'reset' }
  /** `watch --once`: the committed migrations, then current.sql, once. */
  | { command: 'watch' }
  /** One SQL text, as `graphile-migrate run` would (placeholders substituted). */
  | { command: 'run'; sql: string; filename: string };

export type WorkerJob = MigrateCommand & { settings: MigrateSettings; forwardLog: boolean };
export type WorkerReply =
  | { log: [level: string, message: string] }
  | { done: true }
  | { failed: { message: string; code?: string; logged: boolean } };

/**
 * An error graphile-migrate's command ended with: its message, its `code` (SQLSTATE, or
 * Node's, say ECONNREFUSED: what isDatabaseUnavailable reads), and `_gmlogged` as
 * graphile-migrate sets it once it has logged the error.
 */
export class MigrateError extends Error {
  readonly code: string | undefined;
  readonly _gmlogged: boolean;
  constructor({ message, code, logged }: { message: string; code?: string; logged: boolean }) {
    super(message);
    this.name = 'MigrateError';
    this.code = code;
    this._gmlogged = logged;
  }
}

// .ts from the source, .js when compiled into dist/ (bin/start.js runs that in production).
const workerScript = new URL(
  `./graphile-migrate-worker${path.extname(fileURLToPath(import.meta.url))}`,
  import.meta.url,
);

/** Runs one graphile-migrate command; resolves once it is done and its connections closed. */
export function graphileMigrate(
  job: MigrateCommand,
  settings: MigrateSettings,
  log?: MigrationLog,
): Promise<void> {
  const workerData: WorkerJob = { ...job, settings, forwardLog: Boolean(log) };
  const worker = new Worker(workerScript, { workerData });
  return new Promise<void>((resolve, reject) => {
    let outcome: Error | null | undefined;
    worker.on('message', (message: WorkerReply) => {
      if ('log' in message) return log?.(...message.log);
      outcome = 'failed' in message ? new MigrateError(message.failed) : null;
      void worker.terminate();
    });
    worker.on('error', (error) => (outcome ??= error));
    worker.on('exit', (code) => {
      if (outcome === undefined)
        reject(new Error(`graphile-migrate's ${job.command} ended before it was done (exit code ${code})`));
      else if (outcome) reject(outcome);
      else resolve();
    });
  });
}
