// The files written from the database and committed, so that review shows what a migration
// did: data/schema.sql (the DDL) and docs/access.md (who may do what). Like schema.graphql,
// each has a test that fails when it is stale (test/schema-dump.test.ts,
// test/access-report.test.ts); `npm run schema:update` rewrites all three from the committed
// migrations, and `npm run db:dump` / `npm run db:access -- --write` from the development database.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { accessReport } from './access-report.ts';
import type { RolePlan } from '../database/bootstrap.ts';
import { dumpSchemas, type RoleNames } from './schema-dump.ts';

export const SCHEMA_DUMP_FILE = fileURLToPath(new URL('../../data/schema.sql', import.meta.url));
export const ACCESS_FILE = fileURLToPath(new URL('../../docs/access.md', import.meta.url));
export const DUMPED_SCHEMAS = ['app_public', 'app_private'];

export function roleNames(
  roles: Pick<RolePlan, 'visitor' | 'anonymous'> & {
    owner: { name: string };
    authenticator: { name: string };
  },
): RoleNames {
  return {
    owner: roles.owner.name,
    authenticator: roles.authenticator.name,
    visitor: roles.visitor,
    anonymous: roles.anonymous,
  };
}

/** data/schema.sql's text for this database; `client` is the owner (or a superuser). */
export function schemaDumpOf(client: pg.ClientBase, roles: Parameters<typeof roleNames>[0]): Promise<string> {
  return dumpSchemas(client, DUMPED_SCHEMAS, roleNames(roles));
}

/** docs/access.md's text for this database, written there if asked; `client` is a superuser. */
export async function writeAccessReport(
  client: pg.ClientBase,
  roles: Parameters<typeof roleNames>[0],
  { write }: { write: boolean },
): Promise<string> {
  const report = await accessReport(client, {
    schemas: DUMPED_SCHEMAS,
    roles: roleNames(roles),
    tenantsTable: 'app_public.tenants',
  });
  if (write) await writeFile(ACCESS_FILE, report);
  return report;
}
