// `npm run tenant:<command>`: a DBA's tools for one tenant, against wherever the
// database is (the embedded PostgreSQL by default, else DATABASE_URL). They connect as
// the owner role (DATABASE_URL's login; the embedded one's owner), which reads and
// writes every tenant table past row level security; the API's request roles are not
// involved and gain nothing. docs/portability.md describes each.
//
//   export          --tenant <slug|id> --out <file.tar.gz>
//   import          --in <file.tar.gz> [--as <new-slug>] [--replace] [--untrusted] [--owner <user id>]
//   erase           --tenant <slug|id> --confirm <slug>          off-board now, as deleteTenant does
//   verify-erased   --tenant <id> [--user <id>]… [--strict]       exit 1 unless nothing is left
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadDotEnv, readEnv } from '../config.ts';
import { prepareDatabase } from '../database/migrations.ts';
import { loggerFor } from '../logger.ts';
import { ArchiveError } from '../portability/archive.ts';
import { eraseTenant } from '../portability/erase.ts';
import { exportTenant, findTenant, TenantNotFoundError } from '../portability/export.ts';
import { ImportError, importTenant } from '../portability/import.ts';
import { keyId, SigningKeyError, signingKeysFor } from '../portability/signing.ts';
import { verifyErased } from '../portability/verify-erased.ts';
import { locateDatabaseOrExit } from './locate-database.ts';

const [command, ...rest] = process.argv.slice(2);
loadDotEnv();
const env = readEnv();
const log = loggerFor(env);
const { values } = parseArgs({
  args: rest,
  options: {
    tenant: { type: 'string' },
    out: { type: 'string' },
    in: { type: 'string' },
    as: { type: 'string' },
    replace: { type: 'boolean' },
    untrusted: { type: 'boolean' },
    owner: { type: 'string' },
    confirm: { type: 'string' },
    user: { type: 'string', multiple: true },
    strict: { type: 'boolean' },
  },
});

const USAGE: Record<string, string> = {
  export: 'npm run tenant:export -- --tenant <slug|id> --out <file.tar.gz>',
  import:
    'npm run tenant:import -- --in <file.tar.gz> [--as <new-slug>] [--replace] [--untrusted] [--owner <user id>]',
  erase: 'npm run tenant:erase -- --tenant <slug|id> --confirm <slug>',
  'verify-erased': 'npm run tenant:verify-erased -- --tenant <id> [--user <id>]... [--strict]',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UsageError extends Error {}

function required(name: keyof typeof values): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required: ${USAGE[command!]}`);
  return value;
}

async function run(client: pg.Client, ownerUrl: string): Promise<number> {
  if (command === 'export') {
    const tenant = await findTenant(client, required('tenant'));
    const out = path.resolve(required('out'));
    const started = performance.now();
    const connect = async () => {
      const other = new pg.Client({ connectionString: ownerUrl });
      await other.connect();
      return { client: other, release: () => other.end() };
    };
    const { signing } = await signingKeysFor(env);
    const manifest = await exportTenant(client, tenant.id, out, { connect, signingKey: signing });
    const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
    process.stdout.write(
      `${out}: tenant ${tenant.slug} (${tenant.id}), schema version ${manifest.schemaVersion.migration}, ${rows} rows in ${manifest.tables.length} tables (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
    );
    for (const t of manifest.tables)
      process.stdout.write(`  ${t.table}: ${t.rows} rows, sha256 ${t.sha256}\n`);
    if (manifest.omitted.length)
      process.stdout.write(`  left out on purpose: ${manifest.omitted.join(', ')}\n`);
    process.stdout.write(`  signed with the key ${keyId(signing)} (EXPORT_SIGNING_KEY)\n`);
    return 0;
  }
  if (command === 'import') {
    if (values.owner !== undefined && !UUID.test(values.owner))
      throw new UsageError(`--owner ${values.owner} is not a user id (a uuid): ${USAGE[command]}`);
    const result = await importTenant(client, path.resolve(required('in')), {
      as: values.as,
      replace: values.replace,
      untrusted: values.untrusted,
      owner: values.owner,
      keys: await signingKeysFor(env),
    });
    process.stdout.write(
      `imported as tenant ${result.slug} (${result.tenantId}) from a ${result.trusted ? 'signed' : 'NOT trusted'} archive\n`,
    );
    for (const [table, rows] of Object.entries(result.rows))
      process.stdout.write(`  ${table}: ${rows} rows\n`);
    for (const [table, why] of Object.entries(result.skipped))
      process.stdout.write(`  ${table}: left out (${why})\n`);
    if (values.owner) process.stdout.write(`  owner: ${values.owner.toLowerCase()}\n`);
    return 0;
  }
  if (command === 'erase') {
    const tenant = await findTenant(client, required('tenant'));
    if (values.confirm !== tenant.slug)
      throw new UsageError(
        `To erase ${tenant.slug} (${tenant.id}), repeat its slug: --confirm ${tenant.slug}. Export it first if a copy is wanted.`,
      );
    const result = await eraseTenant(client, tenant.id, {
      auditRetentionDays: env.OFFBOARDED_AUDIT_RETENTION_DAYS,
    });
    await rm(path.resolve(env.EXPORT_DIR, tenant.id), { recursive: true, force: true });
    process.stdout.write(
      `erased ${tenant.slug} (${tenant.id}): ${result.removedUsers} people removed, ${result.keptUsers} kept (members elsewhere), ${result.jobsCancelled} queued jobs cancelled; ` +
        `${result.auditEventsRetained} audit events kept pseudonymised until ${result.retainedUntil.toISOString()}\n` +
        `check it: npm run tenant:verify-erased -- --tenant ${tenant.id}\n`,
    );
    return 0;
  }
  if (command === 'verify-erased') {
    const tenantId = required('tenant');
    const users = values.user ?? [];
    for (const id of [tenantId, ...users])
      if (!UUID.test(id)) throw new UsageError(`${id} is not an id (a uuid): ${USAGE[command]}`);
    const verdict = await verifyErased(client, tenantId.toLowerCase(), {
      userIds: users,
      strict: values.strict,
    });
    process.stdout.write(
      `tenant ${tenantId}: ${verdict.erasedAt ? `erased ${verdict.erasedAt.toISOString()}` : 'no record of an erasure'}; looked for it and ${verdict.users} removed people\n`,
    );
    for (const t of verdict.tables)
      process.stdout.write(
        `  ${t.table}: ${t.rows} rows${t.retained ? ` (retained on purpose until ${verdict.retainedUntil!.toISOString()})` : ''}\n`,
      );
    process.stdout.write(
      `${verdict.found} rows found elsewhere; ${verdict.retained} retained${values.strict ? ' (strict: retained rows count as found)' : ''}\n`,
    );
    return verdict.found === 0 ? 0 : 1;
  }
  throw new UsageError(
    `Unknown command ${command ?? '(none)'}. One of:\n${Object.values(USAGE)
      .map((u) => `  ${u}`)
      .join('\n')}`,
  );
}

const location = await locateDatabaseOrExit(env, (line) => log.debug({ postgres: line.trim() }, 'postgres'));
let exitCode: number;
try {
  // A database at DATABASE_URL is never migrated from here: an import must see its real schema version.
  if (location.embedded) await prepareDatabase(location);
  const client = new pg.Client({ connectionString: location.ownerUrl });
  await client.connect();
  try {
    exitCode = await run(client, location.ownerUrl);
  } finally {
    await client.end();
  }
} catch (error) {
  const expected =
    error instanceof UsageError ||
    error instanceof ArchiveError ||
    error instanceof ImportError ||
    error instanceof SigningKeyError ||
    error instanceof TenantNotFoundError;
  if (expected) process.stderr.write(`${(error as Error).message}\n`);
  else log.error({ err: error }, 'tenant command failed');
  exitCode = error instanceof UsageError ? 2 : 1;
} finally {
  await location.stop();
}
process.exit(exitCode);
