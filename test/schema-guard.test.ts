// The schema guard: every exposed table obeys the isolation rules, and the guard
// really does catch a table that does not.
import { describe, expect, inject, test } from 'vitest';
import { findSchemaProblems, guardOptions } from '../src/database/schema-guard.ts';
import pg from 'pg';
import { asOwner } from './support/db.ts';

const database = inject('database');
const authenticator = decodeURIComponent(new URL(database.authenticatorUrl).username);
const guard = (schemas?: string[]) => guardOptions({ authenticator: { name: authenticator }, visitor: database.visitor, anonymous: database.anonymous }, schemas);

describe('schema guard', () => {
  test('finds nothing wrong with the migrated schema', async () => {
    const problems = await asOwner((db) => findSchemaProblems(db, guard()));
    expect(problems).toEqual([]);
  });

  test('names every rule a careless table breaks', async () => {
    // Built and inspected inside one transaction that is rolled back.
    const client = new pg.Client({ connectionString: database.ownerUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`
        create schema guard_probe;
        create table guard_probe.parents (tenant_id uuid not null, id uuid not null unique, primary key (tenant_id, id));
        alter table guard_probe.parents enable row level security;
        create table guard_probe.careless (
          id uuid primary key,
          tenant_id uuid not null,
          parent_id uuid references guard_probe.parents (id),
          code text unique
        );
        grant select on guard_probe.careless to public;
        grant select on guard_probe.careless to ${database.anonymous};
        create function guard_probe.leaky() returns int language sql security definer as 'select 1';
        grant execute on function guard_probe.leaky() to public;
      `);
      const problems = await findSchemaProblems(client, guard(['guard_probe']));
      await client.query('rollback');
      expect(problems).toEqual(
        expect.arrayContaining([
          'table guard_probe.careless: row level security is not enabled',
          'table guard_probe.parents: row level security is enabled but not forced',
          'table guard_probe.careless: has no row level security policy',
          'table guard_probe.careless: grants SELECT to PUBLIC',
          'table guard_probe.careless: primary key careless_pkey does not include tenant_id',
          'table guard_probe.careless: unique constraint careless_code_key does not include tenant_id',
          'table guard_probe.parents: unique constraint parents_id_key does not include tenant_id',
          'table guard_probe.careless: foreign key careless_parent_id_fkey to tenant table guard_probe.parents does not match on tenant_id',
          'table guard_probe.careless: foreign key careless_parent_id_fkey (parent_id) has no index that starts with its columns',
          'function guard_probe.leaky(): is SECURITY DEFINER without a pinned search_path',
          'function guard_probe.leaky(): is executable by PUBLIC',
          `role ${database.anonymous}: has SELECT on guard_probe.careless`,
        ]),
      );
    } finally {
      await client.end();
    }
  });
});
