// data/schema.sql is committed so that a migration's whole effect shows in one diff. This
// fails when it is stale; `npm run schema:update` rewrites it (with schema.graphql and
// docs/access.md) from the committed migrations, `npm run db:dump` from the dev database.
//
// The dump is written from the catalogue with roles as placeholders, names sorted
// bytewise and the search_path pinned: the same bytes on PostgreSQL 15 and 17 (both are
// run by CI), whatever the deployment's role names.
import { readFile, writeFile } from 'node:fs/promises';
import { expect, inject, test } from 'vitest';
import { SCHEMA_DUMP_FILE, schemaDumpOf } from '../src/dba/committed-outputs.ts';
import { loginRoleOf } from '../src/database/bootstrap.ts';
import { asOwner } from './support/db.ts';

const database = inject('database');
const roles = {
  owner: loginRoleOf(database.ownerUrl),
  authenticator: loginRoleOf(database.authenticatorUrl),
  visitor: database.visitor,
  anonymous: database.anonymous,
};

test('data/schema.sql matches the schema the migrations produce', async () => {
  const { dump, version } = await asOwner(async (db) => ({
    dump: await schemaDumpOf(db, roles),
    version: (await db.query<{ server_version: string }>('show server_version')).rows[0]!.server_version,
  }));
  if (process.env.UPDATE_SCHEMA === '1') await writeFile(SCHEMA_DUMP_FILE, dump);
  const committed = await readFile(SCHEMA_DUMP_FILE, 'utf8').catch(() => '');
  expect(
    committed === dump,
    `data/schema.sql is stale (compared on PostgreSQL ${version}): run \`npm run schema:update\` and commit the result`,
  ).toBe(true);
  // Not a file of placeholders only: the dump really covers the tables and their policies.
  expect(dump).toMatch(/create policy select_own_tenant on app_public\.products for select/);
  expect(dump).not.toMatch(/tenantgraph_test_/);
});
