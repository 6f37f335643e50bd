// The schema guard: the migrated schema breaks no rule (its deliberate exceptions are
// waived, with reasons), and each rule really does catch a careless table built for it.
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, test } from 'vitest';
import {
  guardOptions,
  loadWaivers,
  RULES,
  runGuard,
  type Finding,
  type Waiver,
} from '../src/dba/schema-guard.ts';
import { citusSubSelects, tiesToCurrentTenant, unwrappedHelperCalls } from '../src/dba/policy-expressions.ts';
import { onDatabase } from '../src/database/location.ts';
import { databaseNameOf } from '../src/database/migrations.ts';
import { asOwner, asUser, withAuthenticator } from './support/db.ts';
import { createTenant } from './support/fixtures.ts';

const database = inject('database');
const authenticator = decodeURIComponent(new URL(database.authenticatorUrl).username);
const guard = (schemas?: string[], waivers: Waiver[] = []) =>
  guardOptions(
    { authenticator: { name: authenticator }, visitor: database.visitor, anonymous: database.anonymous },
    schemas,
    waivers,
  );
// Every rule a careless table below was caught by: the last test checks that none is left out.
const caught = new Set<string>();
const keys = (findings: Finding[]) => {
  for (const f of findings) caught.add(f.rule);
  return findings.map((f) => `${f.rule} ${f.object}`);
};

/** Builds `sql` in a throwaway schema inside a transaction, guards that schema, rolls it all back. */
async function guardProbe(sql: string, waivers: Waiver[] = []) {
  const client = new pg.Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`create schema guard_probe; ${sql}`);
    return await runGuard(client, guard(['guard_probe'], waivers));
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
}

// A tenant table as tenantgraph writes them, to be broken one rule at a time.
const goodTable = (name: string, { policies = true, grants = true } = {}) => `
  create table guard_probe.${name} (
    tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
    id uuid not null default gen_random_uuid(),
    name text not null,
    primary key (tenant_id, id)
  );
  select app_private.distribute('guard_probe.${name}');
  create trigger _900_audit after insert or update or delete on guard_probe.${name} for each row execute function app_private.tg__audit();
  alter table guard_probe.${name} enable row level security;
  alter table guard_probe.${name} force row level security;
  ${policies ? `create policy select_own_tenant on guard_probe.${name} for select using (tenant_id = (select app_public.current_tenant_id()));` : ''}
  ${grants ? `grant select, insert (name), update (name) on guard_probe.${name} to ${database.visitor};` : ''}
`;

describe('schema guard', () => {
  test('finds nothing wrong with the migrated schema, and every waiver is used', async () => {
    const waivers = await loadWaivers();
    const verdict = await asOwner((db) => runGuard(db, guard(undefined, waivers)));
    expect(verdict.problems).toEqual([]);
    expect(keys(verdict.waived).sort()).toEqual(waivers.map((w) => `${w.rule} ${w.object}`).sort());
    // What the DBA loop's worked example says db:watch prints.
    const loop = await readFile(new URL('../docs/dba-loop.md', import.meta.url), 'utf8');
    expect(/`schema guard: no problems, (\d+) waived`/.exec(loop)?.[1]).toBe(String(verdict.waived.length));
  });

  test('runs as the authenticator too, as the development server runs it', async () => {
    const verdict = await withAuthenticator(async (db) =>
      runGuard(db, guard(undefined, await loadWaivers())),
    );
    expect(verdict.problems).toEqual([]);
  });

  test('a well-formed tenant table passes', async () => {
    const verdict = await guardProbe(goodTable('tidy'));
    expect(verdict.problems).toEqual([]);
  });

  test('a tenant table whose policy is `using (true)` leaks to another tenant, and the guard names the policy', async () => {
    // Committed, so that tenant B can really read through the API's own role.
    const schema = `guard_leak_${randomBytes(4).toString('hex')}`;
    const [a, b] = await Promise.all([createTenant('leak-victim'), createTenant('leak-reader')]);
    try {
      await asOwner(async (db) => {
        await db.query(`
          create schema ${schema};
          grant usage on schema ${schema} to ${database.visitor};
          create table ${schema}.notes (
            tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants,
            id uuid not null default gen_random_uuid(),
            body text not null,
            primary key (tenant_id, id)
          );
          create trigger _900_audit after insert or update or delete on ${schema}.notes for each row execute function app_private.tg__audit();
          alter table ${schema}.notes enable row level security;
          alter table ${schema}.notes force row level security;
          create policy select_all on ${schema}.notes for select using (true);
          grant select on ${schema}.notes to ${database.visitor};
        `);
        await db.query(`insert into ${schema}.notes (tenant_id, body) values ($1, 'A''s secret')`, [a.id]);
      });
      const readByB = await asUser({ userId: b.users.viewer, tenantId: b.id }, (db) =>
        db.query(`select body from ${schema}.notes`),
      );
      expect(readByB.rows).toEqual([{ body: "A's secret" }]);

      const verdict = await asOwner((db) => runGuard(db, guard([schema])));
      expect(verdict.problems).toEqual([
        expect.objectContaining({
          rule: 'policy_ignores_tenant',
          level: 'error',
          object: `policy select_all on ${schema}.notes`,
          remediation: 'docs/guard.md#policy_ignores_tenant',
        }),
        // Nor was it passed to app_private.distribute (that is a warning, after the errors).
        expect.objectContaining({ rule: 'citus_not_distributed', object: `table ${schema}.notes` }),
      ]);
    } finally {
      await asOwner((db) => db.query(`drop schema ${schema} cascade`));
    }
  });

  test('policies that ignore the tenant, for any command, are errors; helpers called per row are warnings', async () => {
    const verdict = await guardProbe(`
      ${goodTable('careless', { policies: false })}
      create policy select_true on guard_probe.careless for select using (true);
      create policy insert_any_tenant on guard_probe.careless for insert with check ((select app_public.current_tenant_role()) = 'member');
      create policy update_or on guard_probe.careless for update
        using (tenant_id = (select app_public.current_tenant_id()) or name = 'shared')
        with check (tenant_id = (select app_public.current_tenant_id()));
      create policy delete_not_current on guard_probe.careless for delete using (tenant_id <> (select app_public.current_tenant_id()));
      create policy all_in_my_tenants on guard_probe.careless using (tenant_id in (select m.tenant_id from app_public.memberships m));
      create policy select_unwrapped on guard_probe.careless for select using (tenant_id = app_public.current_tenant_id());
      create policy select_restrictive on guard_probe.careless as restrictive for select using (true);
      create policy select_none on guard_probe.careless for select using (false);
    `);
    expect(keys(verdict.problems).sort()).toEqual([
      'citus_policy_sub_select policy all_in_my_tenants on guard_probe.careless',
      'helper_not_wrapped policy select_unwrapped on guard_probe.careless',
      'policy_ignores_tenant policy all_in_my_tenants on guard_probe.careless',
      'policy_ignores_tenant policy delete_not_current on guard_probe.careless',
      'policy_ignores_tenant policy insert_any_tenant on guard_probe.careless',
      'policy_ignores_tenant policy select_true on guard_probe.careless',
      'policy_ignores_tenant policy update_or on guard_probe.careless',
    ]);
    expect(verdict.problems.find((f) => f.rule === 'policy_ignores_tenant')?.level).toBe('error');
    expect(verdict.problems.find((f) => f.rule === 'helper_not_wrapped')?.level).toBe('warn');
  });

  test('grants without column lists, tenant_id without its default or writable, and SECURITY DEFINER for anonymous are named', async () => {
    const verdict = await guardProbe(`
      ${goodTable('wide', { grants: false })}
      grant select, insert, update on guard_probe.wide to ${database.visitor};
      ${goodTable('no_default')}
      alter table guard_probe.no_default alter column tenant_id drop default;
      ${goodTable('tenant_writable')}
      grant update (tenant_id) on guard_probe.tenant_writable to ${database.visitor};
      create function guard_probe.open_door() returns int language sql security definer set search_path to pg_catalog as 'select 1';
      revoke all on function guard_probe.open_door() from public;
      grant execute on function guard_probe.open_door() to ${database.anonymous};
    `);
    expect(keys(verdict.problems).sort()).toEqual([
      'definer_function_executable_by_anonymous function guard_probe.open_door()',
      'insert_grant_without_columns table guard_probe.wide',
      'tenant_id_default_missing table guard_probe.no_default',
      'tenant_id_writable table guard_probe.tenant_writable',
      'tenant_id_writable table guard_probe.wide',
      'update_grant_without_columns table guard_probe.wide',
    ]);
  });

  test('views that run as their owner, readable materialized views and tenant_id without a tenant are named', async () => {
    const verdict = await guardProbe(`
      ${goodTable('base')}
      create view guard_probe.owner_rights as select name from guard_probe.base;
      create view guard_probe.invoker_rights with (security_invoker = true) as select name from guard_probe.base;
      create materialized view guard_probe.snapshot as select name from guard_probe.base;
      grant select on guard_probe.snapshot to ${database.visitor};
      ${goodTable('orphan')}
      alter table guard_probe.orphan drop constraint orphan_tenant_id_fkey;
    `);
    expect(keys(verdict.problems).sort()).toEqual([
      'materialized_view_exposed materialized view guard_probe.snapshot',
      'security_definer_view view guard_probe.owner_rights',
      'tenant_id_without_tenant_reference table guard_probe.orphan',
    ]);
  });

  test('names every older rule a careless table breaks', async () => {
    const verdict = await guardProbe(`
      create table guard_probe.parents (tenant_id uuid not null references app_public.tenants, id uuid not null unique, primary key (tenant_id, id));
      alter table guard_probe.parents enable row level security;
      create table guard_probe.careless (
        id uuid primary key,
        tenant_id uuid not null references app_public.tenants,
        parent_id uuid references guard_probe.parents (id),
        code text unique
      );
      create index on guard_probe.careless (tenant_id);
      grant select on guard_probe.careless to public;
      grant select on guard_probe.careless to ${database.anonymous};
      create function guard_probe.leaky() returns int language sql security definer as 'select 1';
      grant execute on function guard_probe.leaky() to public;
    `);
    const messages = verdict.problems.map((f) => `${f.rule}: ${f.message}`);
    const expected = [
      'rls_disabled: table guard_probe.careless: row level security is not enabled',
      'rls_not_forced: table guard_probe.parents: row level security is enabled but not forced',
      'table_without_policy: table guard_probe.careless: has no row level security policy',
      'grant_to_public: table guard_probe.careless: grants SELECT to PUBLIC',
      'tenant_key_without_tenant_id: table guard_probe.careless: primary key careless_pkey does not include tenant_id',
      'tenant_key_without_tenant_id: table guard_probe.careless: unique constraint careless_code_key does not include tenant_id',
      'tenant_key_without_tenant_id: table guard_probe.parents: unique constraint parents_id_key does not include tenant_id',
      'tenant_foreign_key_without_tenant_id: table guard_probe.careless: foreign key careless_parent_id_fkey to tenant table guard_probe.parents does not match on tenant_id',
      'foreign_key_without_index: table guard_probe.careless: foreign key careless_parent_id_fkey (parent_id) has no index that starts with its columns',
      'definer_function_search_path_mutable: function guard_probe.leaky(): is SECURITY DEFINER without a pinned search_path',
      'grant_to_public: function guard_probe.leaky(): is executable by PUBLIC',
      `definer_function_executable_by_anonymous: function guard_probe.leaky(): is SECURITY DEFINER and executable by ${database.anonymous} (a request without a token)`,
      `anonymous_table_privilege: table guard_probe.careless: role ${database.anonymous} has SELECT`,
    ];
    expect(messages).toEqual(expect.arrayContaining(expected));
    for (const message of expected) caught.add(message.split(':')[0]!);
  });

  test('a tenant table without a primary key is named', async () => {
    const verdict = await guardProbe(`
      create table guard_probe.keyless (tenant_id uuid not null references app_public.tenants, name text);
      select app_private.distribute('guard_probe.keyless');
      create index on guard_probe.keyless (tenant_id);
      create trigger _900_audit after insert or update or delete on guard_probe.keyless for each row execute function app_private.tg__audit();
      alter table guard_probe.keyless enable row level security;
      alter table guard_probe.keyless force row level security;
      create policy select_own_tenant on guard_probe.keyless for select using (tenant_id = (select app_public.current_tenant_id()));
    `);
    expect(keys(verdict.problems)).toEqual(['tenant_primary_key_missing table guard_probe.keyless']);
  });

  test('a tenant table without the audit trigger is named, with the trigger to add', async () => {
    const verdict = await guardProbe(`
      ${goodTable('unaudited')}
      drop trigger _900_audit on guard_probe.unaudited;
    `);
    expect(keys(verdict.problems)).toEqual(['tenant_table_not_audited table guard_probe.unaudited']);
    expect(verdict.problems[0]!.message).toMatch(/execute function app_private.tg__audit\(\)/);
  });

  test('what Citus refuses is named on plain PostgreSQL: a table never distributed, a sub-select in a policy, a key without tenant_id, set null of some columns', async () => {
    const verdict = await guardProbe(`
      ${goodTable('undistributed')}
      delete from app_private.citus_tables where relation = 'guard_probe.undistributed';
      ${goodTable('members_only', { policies: false })}
      create policy select_if_member on guard_probe.members_only for select
        using (tenant_id = (select app_public.current_tenant_id())
               and exists (select 1 from app_public.memberships m where m.tenant_id = members_only.tenant_id));
      ${goodTable('booked')}
      alter table guard_probe.booked add column slot int4range not null default '[1,2)';
      alter table guard_probe.booked add constraint booked_no_overlap exclude using gist (slot with &&);
      alter table guard_probe.booked add column tidy_id uuid;
      alter table guard_probe.booked add constraint booked_tidy foreign key (tenant_id, tidy_id)
        references guard_probe.undistributed (tenant_id, id) on delete set null (tidy_id);
      create index on guard_probe.booked (tenant_id, tidy_id);
    `);
    expect(keys(verdict.problems).sort()).toEqual([
      'citus_foreign_key_set_columns table guard_probe.booked',
      'citus_not_distributed table guard_probe.undistributed',
      'citus_policy_sub_select policy select_if_member on guard_probe.members_only',
      'tenant_key_without_tenant_id table guard_probe.booked',
    ]);
    const messages = verdict.problems.map((f) => f.message);
    expect(messages).toContainEqual(
      expect.stringMatching(
        /undistributed: .*select app_private\.distribute\('guard_probe\.undistributed'\)/,
      ),
    );
    expect(messages).toContainEqual(expect.stringMatching(/\( ?SELECT 1\s+FROM app_public\.memberships m/));
    expect(messages).toContainEqual(expect.stringMatching(/exclusion constraint booked_no_overlap/));
    expect(messages).toContainEqual(
      expect.stringMatching(
        /booked_tidy sets only \(tidy_id\) on delete.*trigger on guard_probe\.undistributed/,
      ),
    );
    // The wrapper distribute() rewrites, ( SELECT helper() AS helper), is no finding: goodTable has it.
    expect((await guardProbe(goodTable('wrapped'))).problems).toEqual([]);
  });

  test('a request role that bypasses RLS, is a member of another role or owns objects is named', async () => {
    // Roles are cluster-wide: a role of this test's own, created as the superuser inside a rolled-back transaction.
    const client = new pg.Client({
      connectionString: onDatabase(database.rootUrl, databaseNameOf(database.ownerUrl)),
    });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`
        create role guard_probe_request bypassrls;
        grant ${database.visitor} to guard_probe_request;
        create schema guard_probe;
        create table guard_probe.owned (id int);
        alter table guard_probe.owned owner to guard_probe_request;
      `);
      const verdict = await runGuard(client, {
        ...guard(['guard_probe']),
        runtimeRoles: ['guard_probe_request'],
      });
      expect(keys(verdict.problems)).toEqual(
        expect.arrayContaining([
          'request_role_bypasses_rls role guard_probe_request',
          'request_role_inherits_role role guard_probe_request',
          'request_role_owns_objects role guard_probe_request',
        ]),
      );
    } finally {
      await client.query('rollback');
      await client.end();
    }
  });

  test('a waived finding is reported as waived with its reason, and a waiver that matches nothing is reported', async () => {
    const waivers = [
      {
        rule: 'policy_ignores_tenant',
        object: 'policy select_true on guard_probe.careless',
        reason: 'Probe: public notes, on purpose.',
      },
      {
        rule: 'rls_disabled',
        object: 'table guard_probe.gone',
        reason: 'Probe: a table that no longer exists.',
      },
    ];
    const verdict = await guardProbe(
      `${goodTable('careless', { policies: false })} create policy select_true on guard_probe.careless for select using (true);`,
      waivers,
    );
    expect(verdict.waived).toEqual([
      expect.objectContaining({ rule: 'policy_ignores_tenant', reason: 'Probe: public notes, on purpose.' }),
    ]);
    expect(keys(verdict.problems)).toEqual(['waiver_unused waiver rls_disabled table guard_probe.gone']);
  });

  test('every rule was proved above by a careless table it catches', () => {
    expect([...caught].sort()).toEqual(Object.keys(RULES).sort());
  });

  test('every rule has its section in docs/guard.md', async () => {
    const doc = await readFile(new URL('../docs/guard.md', import.meta.url), 'utf8');
    const sections = [...doc.matchAll(/^### `([a-z_]+)`/gm)].map((match) => match[1]);
    expect(sections.sort()).toEqual(Object.keys(RULES).sort());
  });
});

describe('reading policy expressions', () => {
  const tie = { column: 'tenant_id', currentTenant: 'app_public.current_tenant_id' };
  const current = '( SELECT app_public.current_tenant_id() AS current_tenant_id)';
  test.each([
    [`(tenant_id = ${current})`, true],
    [
      `((tenant_id = ${current}) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role))`,
      true,
    ],
    [
      `((tenant_id = ${current}) OR (user_id = ( SELECT app_public.current_user_id() AS current_user_id)))`,
      false,
    ],
    [
      `((tenant_id = ${current}) OR ((tenant_id = app_public.current_tenant_id()) AND (name = 'x'::text)))`,
      true,
    ],
    ['true', false],
    ['false', true],
    [`(NOT (tenant_id <> ${current}))`, false],
    [`(name = 'tenant_id = app_public.current_tenant_id()'::text)`, false],
    [`(CASE WHEN (tenant_id = ${current}) THEN true ELSE true END)`, false],
  ])('%s ties the tenant: %s', (expression, expected) => {
    expect(tiesToCurrentTenant(expression, tie)).toBe(expected);
  });

  test('helper calls outside a sub-select, with constant arguments, are per-row calls', () => {
    expect(
      unwrappedHelperCalls(`((tenant_id = app_public.current_tenant_id()) AND (x = ${current}))`, [
        'app_public',
      ]),
    ).toEqual(['app_public.current_tenant_id()']);
    expect(
      unwrappedHelperCalls(
        `(app_public.is_member(tenant_id) AND (current_setting('app.x'::text, true) = 'y'::text))`,
        ['app_public'],
      ),
    ).toEqual(["current_setting('app.x'::text, true)"]);
  });

  test('sub-selects Citus refuses: every SELECT but the helper wrapper distribute() rewrites', () => {
    expect(citusSubSelects(`(tenant_id = ${current})`)).toEqual([]);
    expect(
      citusSubSelects(
        `((tenant_id = ${current}) AND (id IN ( SELECT m.tenant_id FROM app_public.memberships m)))`,
      ),
    ).toEqual(['( SELECT m.tenant_id FROM app_public.memberships m)']);
    expect(citusSubSelects(`(EXISTS ( SELECT 1 WHERE (x = ${current})))`)).toEqual([
      `( SELECT 1 WHERE (x = ${current}))`,
    ]);
    expect(citusSubSelects(`(name = 'select me'::text)`)).toEqual([]);
  });
});
