// The one catalogue reader (src/dba/catalogue.ts): the tools read policies and row level
// security flags only through it, and a table the DBA adds is the same tenant table to the
// reader and to tenant portability.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { expect, inject, test } from 'vitest';
import { isGranted, readPolicies, readPrivileges, readRelations } from '../src/dba/catalogue.ts';
import { tenantTables } from '../src/portability/tables.ts';

const database = inject('database');

test('pg_policy and the row level security flags are read in src/dba/catalogue.ts alone', () => {
  const readers = execFileSync(
    'git',
    ['grep', '--untracked', '-lE', 'pg_policy|polcmd|relrowsecurity|relforcerowsecurity', '--', 'src'],
    { encoding: 'utf8' },
  );
  expect(readers.trim().split('\n')).toEqual(['src/dba/catalogue.ts']);
});

test('a table added with a tenant_id column is a tenant table to the reader and to portability, its policy and grants read back', async () => {
  const db = new pg.Client({ connectionString: database.ownerUrl });
  await db.connect();
  try {
    // Rolled back: the table never reaches the schema other tests read.
    await db.query('begin');
    await db.query(`set local search_path = pg_catalog, pg_temp`);
    await db.query(`create table app_public.catalogue_probe (tenant_id uuid not null, price int, note text)`);
    await db.query(`alter table app_public.catalogue_probe enable row level security`);
    await db.query(
      `create policy select_cheap on app_public.catalogue_probe for select
         using (tenant_id = (select app_public.current_tenant_id()) and price < 10)`,
    );
    await db.query(
      `grant select (price) on app_public.catalogue_probe to ${pg.escapeIdentifier(database.visitor)}`,
    );

    const schemas = ['app_public'];
    const probe = (await readRelations(db, { schemas })).find((r) => r.name === 'app_public.catalogue_probe');
    expect(probe).toMatchObject({
      kind: 'r',
      rls: true,
      force: false,
      hasTenantId: true,
      alias: 'catalogue_probe',
    });
    expect((await tenantTables(db, schemas)).map((table) => table.name)).toContain(
      'app_public.catalogue_probe',
    );

    const policies = await readPolicies(db, { relation: probe!.oid });
    expect(
      policies.map(({ relationName, name, command, roles, reads }) => ({
        relationName,
        name,
        command,
        roles,
        reads,
      })),
    ).toEqual([
      {
        relationName: 'app_public.catalogue_probe',
        name: 'select_cheap',
        command: 'r',
        roles: ['public'],
        reads: ['tenant_id', 'price'],
      },
    ]);

    const privileges = await readPrivileges(db, { relation: probe!.oid }, [
      database.visitor,
      database.anonymous,
    ]);
    const described = (role: string) =>
      privileges
        .filter((p) => p.role === role)
        .map((p) => `${p.command} ${isGranted(p) ? (p.whole ? 'all' : p.columns.join(',')) : '-'}`);
    expect(described(database.visitor)).toEqual(['select price', 'insert -', 'update -', 'delete -']);
    expect(described(database.anonymous)).toEqual(['select -', 'insert -', 'update -', 'delete -']);
  } finally {
    await db.query('rollback');
    await db.end();
  }
});
