// `npm run db:<command>`: graphile-migrate against wherever the database is (the
// embedded PostgreSQL by default), with no connection strings to set up by hand.
//
//   migrate   apply the committed migrations (creating roles and database if missing)
//   reset     drop and recreate the database from the committed migrations
//   watch     re-run migrations/current.sql on every save (graphile-migrate watch)
//   commit    turn current.sql into the next committed migration (-m "message")
//   guard     the schema guard's verdict (docs/guard.md): exit 1 on any finding not waived
//   any other graphile-migrate command (status, uncommit, ...) is passed through.
import { spawn } from 'node:child_process';
import pg from 'pg';
import { loadDotEnv, readEnv } from '../config.ts';
import { locateDatabase } from '../database/location.ts';
import { migrationEnvironment, prepareDatabase, projectRoot, resetDatabase } from '../database/migrations.ts';
import { formatFinding, guardOptions, loadWaivers, runGuard } from '../database/schema-guard.ts';
import { loggerFor } from '../logger.ts';

const [command = 'migrate', ...rest] = process.argv.slice(2);
loadDotEnv();
const env = readEnv();
const log = loggerFor(env);

function runGraphileMigrate(args: string[], environment: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${projectRoot}node_modules/.bin/graphile-migrate`, args, {
      cwd: projectRoot,
      stdio: 'inherit',
      env: { ...process.env, ...environment },
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const location = await locateDatabase(env, (line) => log.debug({ postgres: line.trim() }, 'postgres'));
let exitCode = 0;
try {
  if (command === 'reset') {
    if (!location.embedded && !rest.includes('--erase')) {
      throw new Error('db:reset drops the database at DATABASE_URL; add --erase to confirm.');
    }
    await resetDatabase(location);
    log.info('database reset to the committed migrations');
  } else {
    const outcome = await prepareDatabase(location);
    log.info(`database ${outcome === 'created' ? 'created and migrated' : 'migrated'}`);
    if (command === 'guard') {
      const client = new pg.Client({ connectionString: location.ownerUrl });
      await client.connect();
      const verdict = await runGuard(client, guardOptions(location.roles, undefined, await loadWaivers())).finally(() => client.end());
      for (const finding of verdict.problems) (finding.level === 'error' ? log.error : log.warn).call(log, formatFinding(finding));
      log.info(`schema guard: ${verdict.problems.length} problems, ${verdict.waived.length} waived`);
      exitCode = verdict.problems.length > 0 ? 1 : 0;
    } else if (command !== 'migrate') {
      // Ctrl-C belongs to graphile-migrate watch; we only wait for it to finish.
      process.on('SIGINT', () => {});
      exitCode = await runGraphileMigrate([command, ...rest], migrationEnvironment(location));
    }
  }
} catch (error) {
  log.error(error instanceof Error ? error.message : String(error));
  exitCode = 1;
} finally {
  await location.stop();
}
process.exit(exitCode);
