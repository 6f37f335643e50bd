// Applies the graphile-migrate migrations, with the settings of .gmrc.
//
// .gmrc stays the single source of the migration settings (hooks, placeholders) for
// both the CLI (`npm run db:*`) and this programmatic path used by `npm start` and the
// tests; only the connection strings and the role names come from the location.
import { readFile } from 'node:fs/promises';
import JSON5 from 'json5';
import pino from 'pino';
import { installJobQueue } from '../jobs/worker.ts';
import { databaseExists, ensureRoles } from './bootstrap.ts';
import { graphileMigrate, type MigrateSettings, type MigrationLog } from './graphile-migrate.ts';
import type { DatabaseLocation } from './location.ts';
import { projectRoot } from '../project-root.ts';

export { projectRoot };

// graphile-worker narrates its migrations at info level; only its problems matter here.
const quietLogger = pino({ level: 'warn' });

/** The settings graphile-migrate's commands take (graphileMigrate runs them). */
export async function migrationSettings(location: DatabaseLocation): Promise<MigrateSettings> {
  const gmrc = JSON5.parse(await readFile(`${projectRoot}.gmrc`, 'utf8')) as MigrateSettings;
  const roleNames: Record<string, string> = {
    ':DATABASE_AUTHENTICATOR': location.roles.authenticator.name,
    ':DATABASE_VISITOR': location.roles.visitor,
    ':DATABASE_ANONYMOUS': location.roles.anonymous,
  };
  const placeholders = Object.fromEntries(
    Object.entries(gmrc.placeholders ?? {}).map(([key, value]) => [
      key,
      value === '!ENV' ? (roleNames[key] ?? value) : value,
    ]),
  );
  return {
    ...gmrc,
    placeholders,
    connectionString: location.ownerUrl,
    shadowConnectionString: location.shadowUrl,
    rootConnectionString: location.rootUrl,
    migrationsFolder: `${projectRoot}migrations`,
  };
}

/** The environment the graphile-migrate CLI reads, for `npm run db:*`. */
export function migrationEnvironment(location: DatabaseLocation): Record<string, string> {
  return {
    DATABASE_URL: location.ownerUrl,
    ...(location.shadowUrl && { SHADOW_DATABASE_URL: location.shadowUrl }),
    ...(location.rootUrl && { ROOT_DATABASE_URL: location.rootUrl }),
    DATABASE_AUTHENTICATOR: location.roles.authenticator.name,
    DATABASE_VISITOR: location.roles.visitor,
    DATABASE_ANONYMOUS: location.roles.anonymous,
  };
}

export function databaseNameOf(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).pathname.slice(1));
}

/**
 * Brings the database up to the committed migrations and graphile-worker's job queue
 * (the invitation functions queue their mail there). With a superuser at hand it first
 * makes sure the roles exist, and creates a missing database from scratch
 * (graphile-migrate reset, which also runs afterReset.sql); without one, it assumes an
 * operator has done both and only migrates.
 */
export async function prepareDatabase(
  location: DatabaseLocation,
  log?: MigrationLog,
): Promise<'created' | 'migrated'> {
  const settings = await migrationSettings(location);
  let outcome: 'created' | 'migrated' = 'migrated';
  if (location.rootUrl) {
    await ensureRoles(location.rootUrl, location.roles);
    if (!(await databaseExists(location.rootUrl, databaseNameOf(location.ownerUrl)))) {
      await graphileMigrate({ command: 'reset' }, settings, log);
      outcome = 'created';
    }
  }
  if (outcome === 'migrated') await graphileMigrate({ command: 'migrate' }, settings, log);
  await installJobQueue(location.ownerUrl, quietLogger);
  return outcome;
}

export async function resetDatabase(location: DatabaseLocation, log?: MigrationLog): Promise<void> {
  if (!location.rootUrl) throw new Error('Resetting the database needs ROOT_DATABASE_URL (a superuser).');
  await ensureRoles(location.rootUrl, location.roles);
  await graphileMigrate({ command: 'reset' }, await migrationSettings(location), log);
  await installJobQueue(location.ownerUrl, quietLogger);
}
