// What each membership role may do inside its own tenant.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, test } from 'vitest';
import { asOwner, asUser, pgError, withAuthenticator } from './support/db.ts';
import { createTenant, snapshot, type Role, type TenantFixture } from './support/fixtures.ts';

let t: TenantFixture;
beforeEach(async () => {
  t = await createTenant('roles');
});
const as = (role: Role) => ({ userId: t.users[role], tenantId: t.id });

describe('viewer', () => {
  test('reads but cannot create, update or delete', async () => {
    const before = await snapshot(t.id);
    const insert = await pgError(
      asUser(as('viewer'), (db) => db.query("select app_public.create_product('x', 1)")),
    );
    expect(insert.code).toBe('42501'); // new row violates row-level security policy
    const changed = await asUser(
      as('viewer'),
      async (db) => [
        (await db.query('update app_public.products set price = 1')).rowCount,
        (await db.query('delete from app_public.products')).rowCount,
      ],
      { commit: true },
    );
    expect(changed).toEqual([0, 0]);
    expect(await snapshot(t.id)).toEqual(before);
  });
});

describe('member', () => {
  test('creates and updates, but cannot delete', async () => {
    const result = await asUser(
      as('member'),
      async (db) => ({
        created: (await db.query("select * from app_public.create_product('Saw', 20)")).rowCount,
        updated: (await db.query('update app_public.products set price = price + 1')).rowCount,
        deleted: (await db.query('delete from app_public.products')).rowCount,
      }),
      { commit: true },
    );
    expect(result).toEqual({ created: 1, updated: 3, deleted: 0 });
  });

  test('cannot manage memberships', async () => {
    const error = await pgError(
      asUser(as('member'), (db) =>
        db.query("insert into app_public.memberships (user_id, role) values ($1, 'viewer')", [
          t.users.viewer,
        ]),
      ),
    );
    expect(error.code).toBe('42501');
  });

  test('keeps created_at and updated_at honest', async () => {
    const error = await pgError(
      asUser(as('member'), (db) =>
        db.query("update app_public.products set created_at = now() - interval '1 year'"),
      ),
    );
    expect(error.code).toBe('42501');
    const [row] = await asUser(as('member'), async (db) => {
      await db.query('select pg_sleep(0.01)');
      return (
        await db.query(
          'update app_public.products set price = 1 where id = $1 returning created_at, updated_at',
          [t.productIds[0]],
        )
      ).rows;
    });
    expect(row.updated_at.getTime()).toBeGreaterThan(row.created_at.getTime());
  });
});

describe('admin', () => {
  test('deletes products, removes members and changes their roles, but cannot make owners', async () => {
    const result = await asUser(
      as('admin'),
      async (db) => ({
        deleted: (await db.query('delete from app_public.products where id = $1', [t.productIds[1]]))
          .rowCount,
        promoted: (
          await db.query("update app_public.memberships set role = 'member' where user_id = $1", [
            t.users.viewer,
          ])
        ).rowCount,
        removed: (await db.query('delete from app_public.memberships where user_id = $1', [t.users.member]))
          .rowCount,
      }),
      { commit: true },
    );
    expect(result).toEqual({ deleted: 1, promoted: 1, removed: 1 });

    const promote = await pgError(
      asUser(as('admin'), (db) =>
        db.query("update app_public.memberships set role = 'owner' where user_id = $1", [t.users.viewer]),
      ),
    );
    expect(promote.code).toBe('42501');
    const demoteOwner = await asUser(
      as('admin'),
      async (db) =>
        (
          await db.query("update app_public.memberships set role = 'viewer' where user_id = $1", [
            t.users.owner,
          ])
        ).rowCount,
    );
    expect(demoteOwner).toBe(0);
  });

  test('cannot rename the tenant or rewrite its settings: that is for owners', async () => {
    const before = await snapshot(t.id);
    const changed = await asUser(
      as('admin'),
      async (db) =>
        (await db.query(`update app_public.tenants set name = 'Phished', settings = '{"x": 1}'`)).rowCount,
      { commit: true },
    );
    expect(changed).toBe(0);
    expect(await snapshot(t.id)).toEqual(before);
  });
});

describe('owner', () => {
  test('makes owners and renames the tenant', async () => {
    const result = await asUser(as('owner'), async (db) => ({
      promoted: (
        await db.query("update app_public.memberships set role = 'owner' where user_id = $1", [t.users.admin])
      ).rowCount,
      renamed: (await db.query("update app_public.tenants set name = 'Renamed'")).rowCount,
    }));
    expect(result).toEqual({ promoted: 1, renamed: 1 });
  });
});

describe('create_tenant', () => {
  test('makes any signed-in user the owner of a new tenant, creating their user row', async () => {
    const userId = randomUUID();
    const slug = `signup-${userId.slice(0, 8)}`;
    const tenant = await asUser(
      { userId, email: `${slug}@example.test` },
      async (db) => {
        return (await db.query('select * from app_public.create_tenant($1, $2)', ['Signup Inc', slug]))
          .rows[0];
      },
      { commit: true },
    );
    expect(tenant.slug).toBe(slug);
    const visible = await asUser({ userId, tenantId: tenant.id }, async (db) => ({
      role: (await db.query('select app_public.current_tenant_role() as r')).rows[0].r,
      me: (await db.query('select email from app_public."current_user"()')).rows[0].email,
    }));
    expect(visible).toEqual({ role: 'owner', me: `${slug}@example.test` });
  });

  test('refuses a taken slug and leaves nothing behind', async () => {
    const userId = randomUUID();
    const error = await pgError(
      asUser({ userId }, (db) => db.query('select app_public.create_tenant($1, $2)', ['Copycat', t.slug]), {
        commit: true,
      }),
    );
    expect(error.code).toBe('23505');
    const leftovers = await asOwner(
      async (db) =>
        (await db.query('select count(*)::int as n from app_public.users where id = $1', [userId])).rows[0].n,
    );
    expect(leftovers).toBe(0);
  });

  test('refuses a request without a user', async () => {
    const error = await pgError(
      asUser({ userId: 'garbage' }, (db) => db.query("select app_public.create_tenant('x', 'no-user')")),
    );
    expect(error.code).toBe('TG401');
  });
});

describe('the authenticator', () => {
  test("member_tenant_id answers as current_tenant_id does: a member's tenant, else nothing", async () => {
    const other = await createTenant('roles-other');
    const stranger = randomUUID();
    const pairs: Array<[string, string]> = [
      [t.users.viewer, t.id],
      [t.users.owner, t.id],
      [t.users.owner, other.id],
      [stranger, t.id],
      [other.users.admin, other.id],
    ];
    for (const [userId, tenantId] of pairs) {
      const helper = await asUser(
        { userId, tenantId },
        async (db) => (await db.query('select app_public.current_tenant_id() as id')).rows[0].id,
      );
      const asked = await withAuthenticator(
        async (db) =>
          (await db.query('select app_private.member_tenant_id($1, $2) as id', [userId, tenantId])).rows[0]
            .id,
      );
      expect(asked, `${userId} in ${tenantId}`).toBe(helper);
    }
  });

  test('may call member_tenant_id and nothing else of app_private, and reads no table', async () => {
    const helper = await pgError(withAuthenticator((db) => db.query("select app_private.uuid_setting('x')")));
    expect(helper.code).toBe('42501');
    const table = await pgError(withAuthenticator((db) => db.query('select * from app_public.memberships')));
    expect(table.code).toBe('42501');
  });
});
