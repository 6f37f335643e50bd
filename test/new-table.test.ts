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
  await asOwner(async (db) => {
    await db.query(`create schema ${schema}`);
    await db.query(`grant usage on schema ${schema} to ${database.visitor}`);
    // Twice, as graphile-migrate watch re-runs current.sql.
    await db.query(sql);
    await db.query(sql);
  });
  // On Citus, what the generated SQL says to run once it is committed (nothing on PostgreSQL).
  await asOwner((db) => db.query('select app_private.citus_grant_shard_inserts()'));
});

afterAll(async () => {
  await asOwner(async (db) => {
    await db.query(`drop schema if exists ${schema} cascade`);
    // The trigger that clears suppliers.category_id lives on categories, with its function.
    await db.query(`drop function if exists app_private.tg_suppliers__clear_category_id() cascade`);
    await db.query(`delete from app_private.citus_tables where relation = $1`, [table]);
  });
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

  test('is passed to app_private.distribute after its policies, with foreign keys to tenant tables after that', async () => {
    const sql = newTableSql({ name: 'suppliers', columns: ['category_id:@categories?'] });
    const at = (text: string) => sql.indexOf(text);
    expect(at("select app_private.distribute('app_public.suppliers');")).toBeGreaterThan(at('create policy'));
    expect(at('add constraint suppliers_tenant_id_category_id_fkey')).toBeGreaterThan(
      at('select app_private.distribute('),
    );
    // Citus ignores the column list of `on delete set null (…)`: a trigger clears the reference.
    expect(sql).not.toMatch(/on delete set null/);
    const recorded = await asOwner((db) =>
      db.query(`select kind from app_private.citus_tables where relation = $1`, [table]),
    );
    expect(recorded.rows).toEqual([{ kind: 'distributed' }]);
  });

  test("deleting a referenced category clears the reference, in that tenant only, whoever's role may not update the row", async () => {
    const [category] = (
      await asOwner((db) =>
        db.query(`insert into app_public.categories (tenant_id, name) values ($1, $2) returning id`, [
          a.id,
          `Temp ${randomUUID().slice(0, 8)}`,
        ]),
      )
    ).rows;
    const [row] = (
      await asUser(
        { userId: a.users.member, tenantId: a.id },
        (db) =>
          db.query(`insert into ${table} (name, category_id) values ($1, $2) returning id`, [
            `Ref ${randomUUID().slice(0, 8)}`,
            category.id,
          ]),
        { commit: true },
      )
    ).rows;
    const deleted = await asUser(
      { userId: a.users.admin, tenantId: a.id },
      (db) => db.query(`delete from app_public.categories where id = $1`, [category.id]),
      { commit: true },
    );
    expect(deleted.rowCount).toBe(1);
    const after = await asOwner((db) => db.query(`select category_id from ${table} where id = $1`, [row.id]));
    expect(after.rows).toEqual([{ category_id: null }]);
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
