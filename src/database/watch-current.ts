// `npm run db:watch`: graphile-migrate's watch, run here so that something can follow each
// run of migrations/current.sql (the guard's verdict, the schema dump). Each save runs
// graphile-migrate's own `watch --once` (committed migrations, then current.sql), one run
// at a time; a save during a run queues one more.
import { watchFile, unwatchFile } from 'node:fs';
import { graphileMigrate } from './graphile-migrate.ts';
import type { DatabaseLocation } from './location.ts';
import { migrationSettings, projectRoot } from './migrations.ts';

export const CURRENT_MIGRATION = `${projectRoot}migrations/current.sql`;

export interface WatchHandlers {
  log: (level: string, message: string) => void;
  /** After every run, whether it succeeded. */
  afterRun: (succeeded: boolean) => Promise<void>;
}

/** Runs the committed migrations, then current.sql, once (`watch --once`); whether it succeeded. */
export async function runCurrentMigration(
  location: DatabaseLocation,
  log: WatchHandlers['log'],
): Promise<boolean> {
  try {
    await graphileMigrate({ command: 'watch' }, await migrationSettings(location), log);
    return true;
  } catch (error) {
    // graphile-migrate has logged the database error with its position in current.sql.
    if (!(error as { _gmlogged?: boolean })._gmlogged) log('error', (error as Error).message);
    return false;
  }
}

/** Runs current.sql now and after every save; returns a function that stops watching. */
export function watchCurrentMigration(location: DatabaseLocation, handlers: WatchHandlers): () => void {
  let running: Promise<void> | null = null;
  let again = false;
  const runOnce = async () => handlers.afterRun(await runCurrentMigration(location, handlers.log));
  const queue = () => {
    if (running) {
      again = true;
      return;
    }
    running = runOnce().finally(() => {
      running = null;
      if (again) {
        again = false;
        queue();
      }
    });
  };
  // Polling, like graphile-migrate's own watcher: editors that replace the file are seen too.
  let settle: NodeJS.Timeout | undefined;
  watchFile(CURRENT_MIGRATION, { interval: 200 }, () => {
    clearTimeout(settle);
    settle = setTimeout(queue, 200);
  });
  queue();
  return () => {
    clearTimeout(settle);
    unwatchFile(CURRENT_MIGRATION);
  };
}
