// `npm run db:<command>`: graphile-migrate and the DBA's tools against wherever the
// database is (the embedded PostgreSQL by default), with no connection strings to set up.
//
//   migrate          apply the committed migrations (creating roles and database if missing)
//   reset            drop and recreate the database from the committed migrations
//   watch            re-run migrations/current.sql on every save, then print the guard's verdict
//                    (--once: run it once, print the verdict, exit 1 if it failed or the guard objects)
//   commit           turn current.sql into the next committed migration (-m "message")
//   guard            the schema guard's verdict (exit 1 on any finding not waived)
//   dump             rewrite data/schema.sql from the database (--check: exit 1 if it differs)
//   access           who may do what, per request role (--write: rewrite docs/access.md)
//   explain-access   why an identity can or cannot see a row (--user --tenant --table [--row])
//   new-table        append a complete tenant table to migrations/current.sql (no database needed)
//   any other graphile-migrate command (status, uncommit, ...) is passed through.
//
// In development (NODE_ENV unset or development), migrate, commit and each watch run also
// rewrite data/schema.sql, so a migration's effect shows in the same diff.
import { spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadDotEnv, readEnv } from '../config.ts';
import { ACCESS_FILE, SCHEMA_DUMP_FILE, schemaDumpOf, writeAccessReport } from '../dba/committed-outputs.ts';
import { explainAccess } from '../dba/explain-access.ts';
import { withClient } from '../database/bootstrap.ts';
import { onDatabase, type DatabaseLocation } from '../database/location.ts';
import {
  databaseNameOf,
  migrationEnvironment,
  prepareDatabase,
  projectRoot,
  resetDatabase,
} from '../database/migrations.ts';
import { newTableSql, TENANT_ROLES, type TenantRole } from '../dba/new-table.ts';
import { formatFinding, guardOptions, loadWaivers, runGuard } from '../dba/schema-guard.ts';
import { CURRENT_MIGRATION, runCurrentMigration, watchCurrentMigration } from '../database/watch-current.ts';
import { loggerFor } from '../logger.ts';
import { locateDatabaseOrExit } from './locate-database.ts';

const [command = 'migrate', ...rest] = process.argv.slice(2);
loadDotEnv();
const env = readEnv();
const log = loggerFor(env);
const development = env.NODE_ENV === 'development';

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

/** Prints the verdict; true when nothing is left but waived findings. */
async function printVerdict(
  location: DatabaseLocation,
  { listWaived }: { listWaived: boolean },
): Promise<boolean> {
  const options = guardOptions(location.roles, undefined, await loadWaivers());
  const verdict = await withClient(location.ownerUrl, (client) => runGuard(client, options));
  for (const finding of verdict.problems)
    (finding.level === 'error' ? log.error : log.warn).call(log, formatFinding(finding));
  if (listWaived) for (const finding of verdict.waived) log.info(formatFinding(finding));
  const errors = verdict.problems.filter((finding) => finding.level === 'error').length;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const waived = `${verdict.waived.length} waived${listWaived ? '' : ' (npm run db:guard lists them)'}`;
  if (verdict.problems.length)
    log.warn(
      `schema guard: ${count(errors, 'error')}, ${count(verdict.problems.length - errors, 'warning')}, ${waived}`,
    );
  else log.info(`schema guard: no problems, ${waived}`);
  return verdict.problems.length === 0;
}

async function rewriteDump(location: DatabaseLocation): Promise<void> {
  const dump = await withClient(location.ownerUrl, (client) => schemaDumpOf(client, location.roles));
  const before = await readFile(SCHEMA_DUMP_FILE, 'utf8').catch(() => '');
  if (before !== dump) {
    await writeFile(SCHEMA_DUMP_FILE, dump);
    log.info('data/schema.sql rewritten');
  }
}

// Needs no database: it only writes SQL.
if (command === 'new-table') {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      schema: { type: 'string' },
      select: { type: 'string' },
      write: { type: 'string' },
      delete: { type: 'string' },
      print: { type: 'boolean' },
    },
  });
  const [name, ...columns] = positionals;
  const role = (value: string | undefined, fallback: TenantRole): TenantRole => {
    if (value === undefined) return fallback;
    if (!(TENANT_ROLES as readonly string[]).includes(value))
      throw new Error(`--select/--write/--delete take one of ${TENANT_ROLES.join(', ')}`);
    return value as TenantRole;
  };
  try {
    if (!name)
      throw new Error(
        'Usage: npm run db:new-table -- <plural name> [column:type[?|!] | column:@table …] [--select viewer] [--write member] [--delete admin] [--print]',
      );
    const sql = newTableSql({
      name,
      columns,
      schema: values.schema,
      roles: {
        select: role(values.select, 'viewer'),
        write: role(values.write, 'member'),
        delete: role(values.delete, 'admin'),
      },
    });
    if (values.print) process.stdout.write(sql);
    else {
      const current = await readFile(CURRENT_MIGRATION, 'utf8').catch(() => '');
      // graphile-migrate's placeholder for an empty current.sql is replaced, anything else kept.
      if (/^\s*(--\s*Enter migration here\s*)?$/.test(current)) await writeFile(CURRENT_MIGRATION, sql);
      else await appendFile(CURRENT_MIGRATION, `\n${sql}`);
      process.stdout.write(
        `${name}: written to migrations/current.sql. Under npm run db:watch it runs on save; read it, then describe it in its comments.\n`,
      );
    }
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}

const location = await locateDatabaseOrExit(env, (line) => log.debug({ postgres: line.trim() }, 'postgres'));
let exitCode = 0;
try {
  if (command === 'reset') {
    if (!location.embedded && !rest.includes('--erase')) {
      throw new Error('db:reset drops the database at DATABASE_URL; add --erase to confirm.');
    }
    await resetDatabase(location);
    log.info('database reset to the committed migrations');
    if (development) await rewriteDump(location);
  } else if (command === 'watch') {
    // --once (graphile-migrate's own flag): one run and the guard's verdict, then exit, for
    // scripts and CI. Any other flag is refused rather than ignored while watching forever.
    const { values } = parseArgs({ args: rest, options: { once: { type: 'boolean' } } });
    await prepareDatabase(location);
    const migrationLog = (level: string, message: string) =>
      level === 'error' ? log.error(message) : log.info(message);
    if (values.once) {
      if (!(await runCurrentMigration(location, migrationLog))) {
        log.error('current.sql failed: nothing changed');
        exitCode = 1;
      } else {
        // Like db:guard: any finding not waived fails the run.
        exitCode = (await printVerdict(location, { listWaived: false })) ? 0 : 1;
        if (development) await rewriteDump(location);
      }
    } else {
      // Ctrl-C stops watching; the embedded PostgreSQL is stopped on the way out.
      const stop = watchCurrentMigration(location, {
        log: migrationLog,
        afterRun: async (succeeded) => {
          if (!succeeded) return void log.error('current.sql failed: nothing changed; fix it and save again');
          try {
            await printVerdict(location, { listWaived: false });
            if (development) await rewriteDump(location);
          } catch (error) {
            log.error(`after current.sql: ${(error as Error).message}`);
          }
        },
      });
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      stop();
    }
  } else {
    // The tools that only read (guard, dump, access, explain-access) migrate the embedded
    // database, which may not exist yet, but never a database at DATABASE_URL.
    const readOnly = ['guard', 'dump', 'access', 'explain-access'].includes(command);
    if (!readOnly || location.embedded) {
      const outcome = await prepareDatabase(location);
      log.info(`database ${outcome === 'created' ? 'created and migrated' : 'migrated'}`);
    }
    if (command === 'migrate') {
      if (development) await rewriteDump(location);
    } else if (command === 'guard') {
      exitCode = (await printVerdict(location, { listWaived: true })) ? 0 : 1;
    } else if (command === 'dump') {
      if (rest.includes('--check')) {
        const dump = await withClient(location.ownerUrl, (client) => schemaDumpOf(client, location.roles));
        const same = dump === (await readFile(SCHEMA_DUMP_FILE, 'utf8').catch(() => ''));
        (same ? log.info : log.error).call(
          log,
          same
            ? 'data/schema.sql is up to date'
            : 'data/schema.sql differs from the database: npm run db:dump',
        );
        exitCode = same ? 0 : 1;
      } else await rewriteDump(location);
    } else if (command === 'access') {
      if (!location.rootUrl)
        throw new Error(
          'db:access evaluates policies as each role and needs a superuser (ROOT_DATABASE_URL).',
        );
      const superuserUrl = onDatabase(location.rootUrl, databaseNameOf(location.ownerUrl));
      const report = await withClient(superuserUrl, (client) =>
        writeAccessReport(client, location.roles, { write: rest.includes('--write') }),
      );
      if (rest.includes('--write')) log.info(`${ACCESS_FILE.slice(projectRoot.length)} rewritten`);
      else process.stdout.write(report);
    } else if (command === 'explain-access') {
      const { values } = parseArgs({
        args: rest,
        options: {
          user: { type: 'string' },
          tenant: { type: 'string' },
          table: { type: 'string' },
          row: { type: 'string' },
          email: { type: 'string' },
        },
      });
      if (!values.table)
        throw new Error(
          'Usage: npm run db:explain-access -- [--user <id>] [--tenant <id|slug>] --table <name> [--row <key>|col=value,...]',
        );
      const lines = await explainAccess(
        {
          userId: values.user,
          tenant: values.tenant,
          email: values.email,
          table: values.table,
          row: values.row,
        },
        { ownerUrl: location.ownerUrl, authenticatorUrl: location.authenticatorUrl, roles: location.roles },
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    } else if (command !== 'migrate') {
      // Ctrl-C belongs to graphile-migrate; we only wait for it to finish.
      process.on('SIGINT', () => {});
      exitCode = await runGraphileMigrate([command, ...rest], migrationEnvironment(location));
      if (exitCode === 0 && command === 'commit' && development) await rewriteDump(location);
    }
  }
} catch (error) {
  log.error(error instanceof Error ? error.message : String(error));
  exitCode = 1;
} finally {
  await location.stop();
}
process.exit(exitCode);
