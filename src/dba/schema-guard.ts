// The safety net for people who evolve the schema: lints, in the manner of Supabase's
// splinter, for every object in the guarded schemas that breaks one of tenantgraph's
// isolation rules. Each finding has a stable rule name, a level, the object, and a
// remediation (docs/guard.md#<rule>). Deliberate exceptions are listed, each with its
// reason, in db-guard-waivers.json5; a waived finding is reported as waived.
//
// The test suite fails on any finding that is not waived; `npm run db:guard` prints the
// verdict (exit 1 on an error); in development, watch mode will not serve a schema the
// guard refuses (guarded-watch.ts).
//
// A tenant table is a table of the guarded schemas with a `tenant_id` column (catalogue.ts).
// Its tenant_id must reference app_public.tenants, or the tenant_id of another tenant
// table through a composite key (tenant_id_without_tenant_reference): the name alone is
// enough to be held to the rules, so a careless table cannot escape them by lacking the key.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import JSON5 from 'json5';
import type pg from 'pg';
import type { RolePlan } from '../database/bootstrap.ts';
import { POLICY_COMMANDS, readPolicies, readRelations, TENANT_TABLES } from './catalogue.ts';
import { citusSubSelects, tiesToCurrentTenant, unwrappedHelperCalls } from './policy-expressions.ts';

export type Level = 'error' | 'warn';

/** Every rule, its level and a one-line title; docs/guard.md has a section per rule. */
export const RULES = {
  rls_disabled: { level: 'error', title: 'Row level security is not enabled' },
  rls_not_forced: { level: 'error', title: 'Row level security is not forced' },
  table_without_policy: { level: 'warn', title: 'A table with row level security has no policy' },
  policy_ignores_tenant: {
    level: 'error',
    title: 'A policy of a tenant table does not tie tenant_id to the current tenant',
  },
  helper_not_wrapped: { level: 'warn', title: 'A policy calls a helper once per row' },
  grant_to_public: { level: 'error', title: 'Something is granted to PUBLIC' },
  insert_grant_without_columns: { level: 'error', title: 'INSERT is granted on a whole table' },
  update_grant_without_columns: { level: 'error', title: 'UPDATE is granted on a whole table' },
  anonymous_table_privilege: { level: 'error', title: 'The anonymous role holds a table privilege' },
  definer_function_executable_by_anonymous: {
    level: 'error',
    title: 'The anonymous role may execute a SECURITY DEFINER function',
  },
  definer_function_search_path_mutable: {
    level: 'error',
    title: 'A SECURITY DEFINER function has no pinned search_path',
  },
  security_definer_view: { level: 'error', title: "A view runs with its owner's rights" },
  materialized_view_exposed: { level: 'error', title: 'A request role may read a materialized view' },
  tenant_id_without_tenant_reference: { level: 'error', title: 'tenant_id references no tenant' },
  tenant_id_default_missing: { level: 'warn', title: 'tenant_id does not default to the current tenant' },
  tenant_id_writable: { level: 'warn', title: 'A request role may write tenant_id' },
  tenant_primary_key_missing: { level: 'error', title: 'A tenant table has no primary key' },
  tenant_table_not_audited: { level: 'error', title: 'A tenant table has no audit trigger' },
  tenant_key_without_tenant_id: {
    level: 'error',
    title: 'A key of a tenant table does not include tenant_id',
  },
  tenant_foreign_key_without_tenant_id: {
    level: 'error',
    title: 'A foreign key to a tenant table does not match on tenant_id',
  },
  foreign_key_without_index: { level: 'warn', title: 'A foreign key has no index' },
  citus_not_distributed: {
    level: 'warn',
    title: 'A tenant table is never passed to app_private.distribute',
  },
  citus_policy_sub_select: { level: 'warn', title: 'A policy of a tenant table holds a sub-select' },
  citus_foreign_key_set_columns: {
    level: 'warn',
    title: 'A foreign key of a tenant table sets only some columns on delete',
  },
  request_role_bypasses_rls: {
    level: 'error',
    title: 'A request role is a superuser or bypasses row level security',
  },
  request_role_inherits_role: { level: 'error', title: 'A request role is a member of another role' },
  request_role_owns_objects: { level: 'error', title: 'A request role owns objects' },
  waiver_unused: { level: 'warn', title: 'A waiver matches no finding' },
} as const satisfies Record<string, { level: Level; title: string }>;

export type RuleName = keyof typeof RULES;

export interface Finding {
  rule: RuleName;
  level: Level;
  /** What the finding is about, as a waiver names it: `table app_public.products`, `policy p on app_public.products`. */
  object: string;
  /** The finding phrased for a person, starting with the object. */
  message: string;
  /** Where the rule and its fix are explained. */
  remediation: string;
}

export interface Waiver {
  rule: string;
  object: string;
  /** Why this exception is deliberate and safe. */
  reason: string;
}

export interface GuardOptions {
  /** Schemas whose objects are held to the rules (app_public is exposed; app_private is reachable through functions). */
  schemas: string[];
  /** Roles requests run as (authenticator, visitor, anonymous): they must own nothing and bypass nothing. */
  runtimeRoles: string[];
  /** The role for requests without a token: no table privilege, no SECURITY DEFINER function. */
  anonymousRole: string;
  /** The table of tenants that tenant_id references. */
  tenantsTable: string;
  /** The function returning the request's tenant, schema-qualified. */
  currentTenant: string;
  /** Deliberate exceptions; default: none. */
  waivers?: Waiver[];
}

export interface GuardVerdict {
  /** Findings not waived, errors first. */
  problems: Finding[];
  /** Findings a waiver names, with its reason. */
  waived: Array<Finding & { reason: string }>;
}

export const WAIVERS_FILE = fileURLToPath(new URL('../../db-guard-waivers.json5', import.meta.url));

/** The rules as tenantgraph applies them: to app_public and app_private, for its request roles. */
export function guardOptions(
  roles: Pick<RolePlan, 'visitor' | 'anonymous'> & { authenticator: { name: string } },
  schemas = ['app_public', 'app_private'],
  waivers: Waiver[] = [],
): GuardOptions {
  return {
    schemas,
    runtimeRoles: [roles.authenticator.name, roles.visitor, roles.anonymous],
    anonymousRole: roles.anonymous,
    tenantsTable: 'app_public.tenants',
    currentTenant: 'app_public.current_tenant_id',
    waivers,
  };
}

/** The waiver list (db-guard-waivers.json5): an array of { rule, object, reason }. */
export async function loadWaivers(file = WAIVERS_FILE): Promise<Waiver[]> {
  const parsed: unknown = JSON5.parse(await readFile(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected an array of waivers`);
  return parsed.map((entry: Partial<Waiver>, index) => {
    if (typeof entry?.rule !== 'string' || !(entry.rule in RULES))
      throw new Error(`${file}, waiver ${index + 1}: unknown rule ${JSON.stringify(entry?.rule)}`);
    if (typeof entry.object !== 'string' || !entry.object)
      throw new Error(`${file}, waiver ${index + 1}: object is missing`);
    if (typeof entry.reason !== 'string' || entry.reason.trim().length < 10)
      throw new Error(`${file}, waiver ${index + 1}: say why (reason)`);
    return { rule: entry.rule, object: entry.object, reason: entry.reason };
  });
}

interface Row {
  object: string;
  detail: string;
}

// Each SQL rule returns one row per finding: the object, and what is wrong with it.
// Parameters: $1 the guarded schemas, $2 the runtime roles, $3 the anonymous role,
// $4 the tenants table, $5 the current-tenant function; names print schema-qualified (the
// search_path is pg_catalog). No name is looked up by a cast (to_regclass, ::regclass): the
// development server runs these as the authenticator, who may not use the schemas. The
// rules on row level security and policies read the catalogue through catalogue.ts.
const sqlRules: Array<{ rule: RuleName; sql: string }> = [
  {
    rule: 'grant_to_public',
    sql: `select case c.relkind when 'S' then 'sequence ' else 'table ' end || c.oid::regclass as object,
                 'grants ' || string_agg(distinct a.privilege_type, ', ') || ' to PUBLIC' as detail
          from pg_class c, aclexplode(c.relacl) a
          where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and a.grantee = 0
          group by c.oid, c.relkind
          union all
          select 'function ' || p.oid::regprocedure, 'is executable by PUBLIC'
          from pg_proc p
          where p.pronamespace = any($1::regnamespace[])
            and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0))
          union all
          select 'schema ' || n.nspname, 'grants ' || string_agg(a.privilege_type, ', ') || ' to PUBLIC'
          from pg_namespace n, aclexplode(n.nspacl) a
          where n.oid = any($1::regnamespace[]) and a.grantee = 0
          group by n.nspname`,
  },
  ...(['INSERT', 'UPDATE'] as const).map((privilege) => ({
    rule: `${privilege.toLowerCase() as 'insert' | 'update'}_grant_without_columns` as const,
    sql: `select 'table ' || c.oid::regclass as object,
                 'grants ${privilege} on the whole table to ' || string_agg(case a.grantee when 0 then 'PUBLIC' else a.grantee::regrole::text end, ', ' order by 1)
                 || ': list the columns, as in grant ${privilege.toLowerCase()} (name, ...)' as detail
          from pg_class c, aclexplode(c.relacl) a
          where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and a.privilege_type = '${privilege}' and a.grantee <> c.relowner
          group by c.oid`,
  })),
  {
    rule: 'anonymous_table_privilege',
    sql: `select 'table ' || c.oid::regclass as object, 'role ' || $3::text || ' has ' || string_agg(privilege, ', ' order by privilege) as detail
          from pg_class c, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as privilege
          where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and has_table_privilege($3::text, c.oid, privilege)
          group by c.oid`,
  },
  {
    rule: 'definer_function_executable_by_anonymous',
    sql: `select 'function ' || p.oid::regprocedure as object,
                 'is SECURITY DEFINER and executable by ' || $3::text || ' (a request without a token)' as detail
          from pg_proc p
          where p.pronamespace = any($1::regnamespace[]) and p.prosecdef and has_function_privilege($3::text, p.oid, 'EXECUTE')`,
  },
  {
    rule: 'definer_function_search_path_mutable',
    sql: `select 'function ' || p.oid::regprocedure as object, 'is SECURITY DEFINER without a pinned search_path' as detail
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where p.prosecdef
            and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
            and not exists (select 1 from unnest(p.proconfig) setting where setting like 'search_path=%')`,
  },
  {
    rule: 'security_definer_view',
    sql: `select 'view ' || c.oid::regclass as object,
                 'runs with its owner''s rights, past row level security: create it with (security_invoker = true)' as detail
          from pg_class c
          where c.relnamespace = any($1::regnamespace[]) and c.relkind = 'v'
            and not exists (select 1 from unnest(c.reloptions) option where lower(option) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes'))`,
  },
  {
    rule: 'materialized_view_exposed',
    sql: `select 'materialized view ' || c.oid::regclass as object,
                 'is readable by ' || string_agg(r, ', ' order by r) || ', and materialized views have no row level security' as detail
          from pg_class c, unnest($2::text[]) r
          where c.relnamespace = any($1::regnamespace[]) and c.relkind = 'm' and has_table_privilege(r, c.oid, 'SELECT')
          group by c.oid`,
  },
  {
    rule: 'tenant_id_without_tenant_reference',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object,
                 'tenant_id references neither ' || $4::text || ' nor the tenant_id of another tenant table' as detail
          from tenant_tables t
          where not exists (
            select 1 from pg_constraint con, unnest(con.conkey, con.confkey) as pair(local, remote)
            where con.conrelid = t.oid and con.contype = 'f' and pair.local = t.tenant_attnum
              and pair.remote = (select a.attnum from pg_attribute a where a.attrelid = con.confrelid
                                 and a.attname = case when con.confrelid = (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                                                         where n.nspname || '.' || c.relname = $4::text) then 'id' else 'tenant_id' end))`,
  },
  {
    rule: 'tenant_id_default_missing',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object,
                 'tenant_id defaults to ' || coalesce(pg_get_expr(d.adbin, d.adrelid), 'nothing') || ', not to ' || $5::text || '(), and ' ||
                 (select string_agg(r, ', ' order by r) from unnest($2::text[]) r where has_any_column_privilege(r, t.oid, 'INSERT')) || ' may insert' as detail
          from tenant_tables t
          left join pg_attrdef d on d.adrelid = t.oid and d.adnum = t.tenant_attnum
          where coalesce(pg_get_expr(d.adbin, d.adrelid), '') <> $5::text || '()'
            and exists (select 1 from unnest($2::text[]) r where has_any_column_privilege(r, t.oid, 'INSERT'))`,
  },
  {
    rule: 'tenant_id_writable',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object,
                 'role ' || r || ' may ' || string_agg(lower(privilege), ' and ' order by privilege) || ' tenant_id: leave it to the default' as detail
          from tenant_tables t, unnest($2::text[]) r, unnest(array['INSERT', 'UPDATE']) privilege
          where has_column_privilege(r, t.oid, t.tenant_attnum, privilege)
          group by t.oid, r`,
  },
  {
    // Every change to a tenant's rows belongs in its audit trail (app_private.tg__audit).
    rule: 'tenant_table_not_audited',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object,
                 'no trigger records its changes in the audit trail: create trigger _900_audit after insert or update or delete on ' ||
                 t.oid::regclass || ' for each row execute function app_private.tg__audit()' as detail
          from tenant_tables t
          where not exists (
            select 1 from pg_trigger g join pg_proc p on p.oid = g.tgfoid join pg_namespace n on n.oid = p.pronamespace
            where g.tgrelid = t.oid and not g.tgisinternal and n.nspname = 'app_private' and p.proname = 'tg__audit'
          )`,
  },
  {
    rule: 'tenant_primary_key_missing',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object, 'primary key is missing' as detail
          from tenant_tables t
          where not exists (select 1 from pg_constraint con where con.conrelid = t.oid and con.contype = 'p')`,
  },
  {
    rule: 'tenant_key_without_tenant_id',
    sql: `with ${TENANT_TABLES}
          select 'table ' || t.oid::regclass as object,
                 case con.contype when 'p' then 'primary key ' when 'x' then 'exclusion constraint ' else 'unique constraint ' end
                 || con.conname || ' does not include tenant_id' as detail
          from pg_constraint con join tenant_tables t on t.oid = con.conrelid
          where con.contype in ('p', 'u', 'x') and not (t.tenant_attnum = any(con.conkey))
          union all
          select 'table ' || t.oid::regclass, 'unique index ' || i.indexrelid::regclass || ' does not include tenant_id'
          from pg_index i join tenant_tables t on t.oid = i.indrelid
          where i.indisunique and not (t.tenant_attnum = any(i.indkey::int2[]))
            and not exists (select 1 from pg_constraint con where con.conindid = i.indexrelid)`,
  },
  {
    rule: 'tenant_foreign_key_without_tenant_id',
    sql: `with ${TENANT_TABLES}
          select 'table ' || con.conrelid::regclass as object,
                 'foreign key ' || con.conname || ' to tenant table ' || con.confrelid::regclass || ' does not match on tenant_id' as detail
          from pg_constraint con
          join tenant_tables source on source.oid = con.conrelid
          join tenant_tables target on target.oid = con.confrelid
          where con.contype = 'f'
            and not exists (select 1 from unnest(con.conkey, con.confkey) as pair(local, remote)
                            where pair.local = source.tenant_attnum and pair.remote = target.tenant_attnum)`,
  },
  {
    // PostgreSQL 15's `on delete set null (column)`: Citus ignores the list and would clear
    // tenant_id too (docs/citus.md); a trigger clears the reference instead.
    rule: 'citus_foreign_key_set_columns',
    sql: `with ${TENANT_TABLES}
          select 'table ' || con.conrelid::regclass as object,
                 'foreign key ' || con.conname || ' sets only (' ||
                 (select string_agg(a.attname, ', ' order by k.n) from unnest(con.confdelsetcols) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) ||
                 ') on delete, which Citus ignores: clear the reference with a trigger on ' || con.confrelid::regclass as detail
          from pg_constraint con join tenant_tables t on t.oid = con.conrelid
          where con.contype = 'f' and cardinality(con.confdelsetcols) > 0`,
  },
  {
    rule: 'foreign_key_without_index',
    sql: `select 'table ' || con.conrelid::regclass as object,
                 'foreign key ' || con.conname || ' (' ||
                 (select string_agg(a.attname, ', ' order by k.n) from unnest(con.conkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) ||
                 ') has no index that starts with its columns' as detail
          from pg_constraint con
          where con.contype = 'f' and con.connamespace = any($1::regnamespace[])
            and not exists (
              select 1 from pg_index i
              where i.indrelid = con.conrelid
                and (select array_agg(k order by k) from unnest((i.indkey::int2[])[0:cardinality(con.conkey) - 1]) k)
                  = (select array_agg(k order by k) from unnest(con.conkey) k))`,
  },
  {
    rule: 'request_role_bypasses_rls',
    sql: `select 'role ' || r.rolname as object, case when r.rolsuper then 'is a superuser' else 'bypasses row level security' end as detail
          from pg_roles r where r.rolname = any($2::text[]) and (r.rolsuper or r.rolbypassrls)`,
  },
  {
    rule: 'request_role_inherits_role',
    sql: `select 'role ' || r.rolname as object, 'is a member of ' || owner.rolname as detail
          from pg_roles r
          join pg_auth_members m on m.member = r.oid
          join pg_roles owner on owner.oid = m.roleid
          where r.rolname = any($2::text[]) and owner.rolname <> all($2::text[])`,
  },
  {
    rule: 'request_role_owns_objects',
    sql: `select 'role ' || r.rolname as object, 'owns ' || o.kind || ' ' || o.name as detail
          from pg_roles r join (
            select relowner as owner, 'relation' as kind, oid::regclass::text as name from pg_class where relnamespace <> 'pg_catalog'::regnamespace
            union all select proowner, 'function', oid::regprocedure::text from pg_proc where pronamespace <> 'pg_catalog'::regnamespace
            union all select nspowner, 'schema', nspname::text from pg_namespace
            union all select typowner, 'type', oid::regtype::text from pg_type where typnamespace <> 'pg_catalog'::regnamespace
          ) o on o.owner = r.oid
          where r.rolname = any($2::text[])`,
  },
];

/** rls_disabled, rls_not_forced, table_without_policy, policy_ignores_tenant and helper_not_wrapped. */
async function rowSecurityFindings(
  client: pg.ClientBase,
  options: GuardOptions,
): Promise<Array<Row & { rule: RuleName }>> {
  const scope = { schemas: options.schemas };
  const relations = await readRelations(client, scope);
  const policies = await readPolicies(client, scope);
  const findings: Array<Row & { rule: RuleName }> = [];
  for (const table of relations.filter((relation) => relation.kind === 'r' || relation.kind === 'p')) {
    const object = `table ${table.name}`;
    if (!table.rls)
      findings.push({ rule: 'rls_disabled', object, detail: 'row level security is not enabled' });
    else if (!table.force)
      findings.push({
        rule: 'rls_not_forced',
        object,
        detail: 'row level security is enabled but not forced',
      });
    if (!policies.some((policy) => policy.relation === table.oid))
      findings.push({ rule: 'table_without_policy', object, detail: 'has no row level security policy' });
  }

  // On Citus, app_private.distribute has unwrapped the helpers on purpose (Citus refuses the
  // sub-select): helper_not_wrapped is a plain-PostgreSQL rule.
  const { rows: onCitus } = await client.query<{ citus: boolean }>(
    `select exists (select 1 from pg_extension where extname = 'citus') as citus`,
  );
  const citus = onCitus[0]?.citus === true;
  const tie = { column: 'tenant_id', currentTenant: options.currentTenant };
  const helperSchemas = [...new Set([...options.schemas, options.currentTenant.split('.')[0]!])];
  const tenantTable = new Set(
    relations.filter((relation) => relation.hasTenantId).map((relation) => relation.oid),
  );
  for (const policy of policies) {
    const object = `policy ${policy.name} on ${policy.relationName}`;
    const command = POLICY_COMMANDS[policy.command] ?? policy.command;
    for (const [clause, expression] of [
      ['USING', policy.using],
      ['WITH CHECK', policy.check],
    ] as const) {
      if (expression === null) continue;
      // Restrictive policies only narrow what the permissive ones admit; they cannot leak.
      if (tenantTable.has(policy.relation) && policy.permissive && !tiesToCurrentTenant(expression, tie)) {
        findings.push({
          rule: 'policy_ignores_tenant',
          object,
          detail: `(for ${command}) ${clause} ${expression} admits rows where tenant_id is not ${options.currentTenant}()`,
        });
      }
      // Citus refuses sub-selects in the policies of a distributed table; distribute()
      // rewrites the helper wrapper only (docs/citus.md).
      if (tenantTable.has(policy.relation)) {
        for (const sub of citusSubSelects(expression)) {
          findings.push({
            rule: 'citus_policy_sub_select',
            object,
            detail: `${clause} holds the sub-select ${sub}, which Citus refuses in a policy: call a SECURITY DEFINER helper instead, as app_public.is_member_of`,
          });
        }
      }
      for (const call of citus ? [] : unwrappedHelperCalls(expression, helperSchemas)) {
        findings.push({
          rule: 'helper_not_wrapped',
          object,
          detail: `${clause} calls ${call} once per row: write (select ${call})`,
        });
      }
    }
  }
  return findings;
}

// The list distribute() and reference() keep on both engines (migration 000035).
const CITUS_TABLES = { schema: 'app_private', table: 'citus_tables' };

/**
 * citus_not_distributed: tenant tables missing from app_private.citus_tables. Skipped when
 * the list is missing or unreadable (the development server guards as the authenticator,
 * who may not read app_private): db:guard and the test suite run as the owner.
 */
async function citusFindings(client: pg.ClientBase, options: GuardOptions): Promise<Row[]> {
  const { rowCount } = await client.query(
    `select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relname = $2
       and has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT')`,
    [CITUS_TABLES.schema, CITUS_TABLES.table],
  );
  if (!rowCount) return [];
  const { rows } = await client.query<Row>(
    `with ${TENANT_TABLES}
     select 'table ' || t.oid::regclass as object,
            'is not in ${CITUS_TABLES.schema}.${CITUS_TABLES.table}: on Citus it would stay on the coordinator, undistributed; add select app_private.distribute(''' ||
            t.oid::regclass || ''') after its create table' as detail
     from tenant_tables t
     where not exists (select 1 from ${CITUS_TABLES.schema}.${CITUS_TABLES.table} d
                       where d.relation = t.oid::regclass::text and d.kind = 'distributed')`,
    [options.schemas],
  );
  return rows;
}

function finding(rule: RuleName, { object, detail }: Row): Finding {
  return {
    rule,
    level: RULES[rule].level,
    object,
    message: `${object}: ${detail}`,
    remediation: `docs/guard.md#${rule}`,
  };
}

const order = (a: Finding, b: Finding) =>
  (a.level === b.level ? 0 : a.level === 'error' ? -1 : 1) ||
  a.rule.localeCompare(b.rule) ||
  a.message.localeCompare(b.message);

/** The query with its parameters renumbered to the ones it uses (PostgreSQL infers no type for an unused one). */
function bind(sql: string, all: unknown[]): { text: string; values: unknown[] } {
  const used = [...new Set([...sql.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])))].sort(
    (a, b) => a - b,
  );
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => `$${used.indexOf(Number(n)) + 1}`);
  return { text, values: used.map((n) => all[n - 1]) };
}

/** Runs every rule and sorts the findings into problems and waived ones; a waiver that matches nothing is a problem too. */
export async function runGuard(client: pg.ClientBase, options: GuardOptions): Promise<GuardVerdict> {
  // Names print schema-qualified whatever the caller's search_path; it is restored afterwards.
  const {
    rows: [before],
  } = await client.query<{ search_path: string }>('show search_path');
  await client.query(`select set_config('search_path', 'pg_catalog, pg_temp', false)`);
  const found: Finding[] = [];
  try {
    const params = [
      options.schemas,
      options.runtimeRoles,
      options.anonymousRole,
      options.tenantsTable,
      options.currentTenant,
    ];
    for (const { rule, sql } of sqlRules) {
      const { rows } = await client.query<Row>(bind(sql, params));
      found.push(...rows.map((row) => finding(rule, row)));
    }
    found.push(...(await rowSecurityFindings(client, options)).map(({ rule, ...row }) => finding(rule, row)));
    found.push(...(await citusFindings(client, options)).map((row) => finding('citus_not_distributed', row)));
  } finally {
    await client.query(`select set_config('search_path', $1, false)`, [before!.search_path]);
  }

  const waivers = options.waivers ?? [];
  const waiverFor = (f: Finding) =>
    waivers.find((waiver) => waiver.rule === f.rule && waiver.object === f.object);
  const problems = found.filter((f) => !waiverFor(f));
  const waived = found.flatMap((f) => {
    const waiver = waiverFor(f);
    return waiver ? [{ ...f, reason: waiver.reason }] : [];
  });
  for (const waiver of waivers) {
    // Only waivers for the schemas guarded in this run can go unused in it.
    const inScope = options.schemas.some((schema) => waiver.object.includes(` ${schema}.`));
    if (inScope && !found.some((f) => f.rule === waiver.rule && f.object === waiver.object)) {
      problems.push(
        finding('waiver_unused', {
          object: `waiver ${waiver.rule} ${waiver.object}`,
          detail: 'matches no finding: the exception is gone, remove the waiver',
        }),
      );
    }
  }
  return { problems: problems.sort(order), waived: waived.sort(order) };
}

/** One line per finding, as the CLI and the server print them. */
export function formatFinding(f: Finding & { reason?: string }): string {
  return f.reason === undefined
    ? `${f.level} ${f.rule}: ${f.message} (${f.remediation})`
    : `waived ${f.rule}: ${f.object} (${f.reason})`;
}
