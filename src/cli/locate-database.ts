// Where a command-line tool's database is (src/database/location.ts), or one line on
// stderr saying what to set and exit 1: a cluster that will not start, or one running on
// another port that will not let us in, is the operator's to fix, not a stack trace.
import type { Env } from '../config.ts';
import { locateDatabase, type DatabaseLocation } from '../database/location.ts';
import { StartupError } from '../startup-error.ts';

export async function locateDatabaseOrExit(
  env: Env,
  onLog?: (message: string) => void,
): Promise<DatabaseLocation> {
  try {
    return await locateDatabase(env, onLog);
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
