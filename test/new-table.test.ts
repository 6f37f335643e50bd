// `npm run db:new-table` writes a tenant table that needs no edit to be right: the guard
// finds nothing, and it isolates tenants the way products do (the isolation pattern of
// test/sql-isolation.test.ts, on the generated table).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { newTableSql, parseColumn } from '../src/dba/new-table.ts';
import { guardOptions, runGuard } from '../src/dba/schema-guard.ts';
import { asOwner, asUser, pgError } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

const database = inject('database');
const schema = `new_table_${randomBytes(4).toString('hex')}`;
const table = `${schema}.suppliers`;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('gen-a'), createTenant('gen-b')]);
  const sql = newTableSql({
    name: 'suppliers',
    schema,
    columns: ['name:text!', 'note:text?', 'category_id:@app_public.categories?'],
    visitor: database.visitor,
  });
  await asOwner((db) =>
    db.query(
      `create schema ${schema}; grant usage on schema ${schema} to ${database.visitor}; ${sql} ${sql}`,
    ),
  );
});

afterAll(async () => {
  await asOwner((db) => db.query(`drop schema if exists ${schema} cascade`));
});

describe('a generated tenant table', () => {
  test('breaks no rule of the schema guard', async () => {
    const authenticator = decodeURIComponent(new URL(database.authenticatorUrl).username);
    const verdict = await asOwner((db) =>
      runGuard(
        db,
        guardOptions(
          {
            authenticator: { name: authenticator },
            visitor: database.visitor,
            anonymous: database.anonymous,
          },
          [schema],
        ),
      ),
    );
    expect(verdict.problems).toEqual([]);
  });

  test('a member creates a row in their own tenant; another tenant can neither read, change, delete nor reference it', async () => {
    const memberA = { userId: a.users.member, tenantId: a.id };
    const [row] = (
      await asUser(
        memberA,
        (db) =>
          db.query(
            `insert into ${table} (name, category_id) values ('Acme Anvils', $1) returning tenant_id, id`,
            [a.categoryId],
          ),
        { commit: true },
      )
    ).rows;
    expect(row.tenant_id).toBe(a.id);

    const adminB = { userId: b.users.admin, tenantId: b.id };
    expect((await asUser(adminB, (db) => db.query(`select * from ${table}`))).rows).toEqual([]);
    expect(
      (await asUser(adminB, (db) => db.query(`update ${table} set name = 'stolen' where id = $1`, [row.id])))
        .rowCount,
    ).toBe(0);
    expect(
      (await asUser(adminB, (db) => db.query(`delete from ${table} where id = $1`, [row.id]))).rowCount,
    ).toBe(0);
    // B's row may not point at A's category: the foreign key includes tenant_id.
    expect(
      (
        await pgError(
          asUser({ userId: b.users.member, tenantId: b.id }, (db) =>
            db.query(`insert into ${table} (name, category_id) values ('x', $1)`, [a.categoryId]),
          ),
        )
      ).code,
    ).toBe('23503');
    // Nor can B write a row into A's tenant.
    expect(
      (
        await pgError(
          asUser(adminB, (db) =>
            db.query(`insert into ${table} (tenant_id, name) values ($1, 'planted')`, [a.id]),
          ),
        )
      ).code,
    ).toBe('42501');

    const unchanged = await asOwner((db) => db.query(`select name from ${table} where id = $1`, [row.id]));
    expect(unchanged.rows).toEqual([{ name: 'Acme Anvils' }]);
  });

  test('roles inside the tenant: a viewer reads but cannot write, a member cannot delete, an admin can; names are unique per tenant', async () => {
    const name = `Row ${randomUUID().slice(0, 8)}`;
    const [row] = (
      await asUser(
        { userId: a.users.member, tenantId: a.id },
        (db) => db.query(`insert into ${table} (name) values ($1) returning id`, [name]),
        { commit: true },
      )
    ).rows;
    const viewer = { userId: a.users.viewer, tenantId: a.id };
    expect(
      (await asUser(viewer, (db) => db.query(`select name from ${table} where id = $1`, [row.id]))).rows,
    ).toEqual([{ name }]);
    expect(
      (await pgError(asUser(viewer, (db) => db.query(`insert into ${table} (name) values ('by viewer')`))))
        .code,
    ).toBe('42501');
    expect(
      (
        await asUser(viewer, (db) =>
          db.query(`update ${table} set name = 'by viewer' where id = $1`, [row.id]),
        )
      ).rowCount,
    ).toBe(0);
    expect(
      (
        await asUser({ userId: a.users.member, tenantId: a.id }, (db) =>
          db.query(`delete from ${table} where id = $1`, [row.id]),
        )
      ).rowCount,
    ).toBe(0);
    // The same name in another tenant is fine; twice in one tenant is not.
    await asUser({ userId: b.users.member, tenantId: b.id }, (db) =>
      db.query(`insert into ${table} (name) values ($1)`, [name]),
    );
    expect(
      (
        await pgError(
          asUser({ userId: a.users.admin, tenantId: a.id }, (db) =>
            db.query(`insert into ${table} (name) values ($1)`, [name]),
          ),
        )
      ).code,
    ).toBe('23505');
    expect(
      (
        await asUser({ userId: a.users.admin, tenantId: a.id }, (db) =>
          db.query(`delete from ${table} where id = $1`, [row.id]),
        )
      ).rowCount,
    ).toBe(1);
  });

  test('refuses column specs it cannot write safely', () => {
    expect(() => parseColumn('tenant_id:uuid', 'app_public')).toThrow(/written for you/);
    expect(() => parseColumn('name:text; drop table x', 'app_public')).toThrow(/not a type name/);
    expect(() => parseColumn('Name:text', 'app_public')).toThrow(/identifier/);
    expect(parseColumn('price:numeric(10, 2)', 'app_public')).toEqual({
      name: 'price',
      type: 'numeric(10, 2)',
      nullable: false,
      unique: false,
    });
  });
});
