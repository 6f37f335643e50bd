// The safety net for people who evolve the schema: reports, by name, every object in
// the exposed schemas that breaks one of tenantgraph's isolation rules. The test suite
// fails on any report; `npm run db:guard` prints them while you write a migration.
import type pg from 'pg';
import type { RolePlan } from './bootstrap.ts';

export interface GuardOptions {
  /** Schemas PostGraphile exposes (every table there is reachable by clients). */
  schemas: string[];
  /** Roles requests run as: they must own nothing and bypass nothing. */
  runtimeRoles: string[];
  /** The role for requests without a token: it must hold no privilege on tables. */
  anonymousRole: string;
}

/** The rules as tenantgraph applies them: to app_public and app_private, for its request roles. */
export function guardOptions(roles: Pick<RolePlan, 'visitor' | 'anonymous'> & { authenticator: { name: string } }, schemas = ['app_public', 'app_private']): GuardOptions {
  return {
    schemas,
    runtimeRoles: [roles.authenticator.name, roles.visitor, roles.anonymous],
    anonymousRole: roles.anonymous,
  };
}

// Each check returns one row per problem, already phrased for a person.
const checks: Array<{ sql: string; params: (options: GuardOptions) => unknown[] }> = [
  {
    // Row level security enabled and forced.
    sql: `
      select format('table %s: row level security is %s', c.oid::regclass,
                    case when not c.relrowsecurity then 'not enabled' else 'enabled but not forced' end) as problem
      from pg_class c
      where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p')
        and not (c.relrowsecurity and c.relforcerowsecurity)`,
    params: (options) => [options.schemas],
  },
  {
    // Every table has a policy.
    sql: `
      select format('table %s: has no row level security policy', c.oid::regclass) as problem
      from pg_class c
      where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p')
        and not exists (select 1 from pg_policy p where p.polrelid = c.oid)`,
    params: (options) => [options.schemas],
  },
  {
    // Nothing granted to PUBLIC.
    sql: `
      select format('%s %s: grants %s to PUBLIC', case c.relkind when 'S' then 'sequence' else 'table' end,
                    c.oid::regclass, string_agg(distinct a.privilege_type, ', ')) as problem
      from pg_class c, aclexplode(c.relacl) a
      where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm', 'S') and a.grantee = 0
      group by c.oid, c.relkind
      union all
      select format('function %s: is executable by PUBLIC', p.oid::regprocedure)
      from pg_proc p
      where p.pronamespace = any($1::regnamespace[])
        and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0))
      union all
      select format('schema %s: grants %s to PUBLIC', n.nspname, string_agg(a.privilege_type, ', '))
      from pg_namespace n, aclexplode(n.nspacl) a
      where n.oid = any($1::regnamespace[]) and a.grantee = 0
      group by n.nspname`,
    params: (options) => [options.schemas],
  },
  {
    // Tenant tables key everything by tenant_id.
    sql: `
      with tenant_tables as (
        select c.oid from pg_class c join pg_attribute a on a.attrelid = c.oid
        where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p')
          and a.attname = 'tenant_id' and not a.attisdropped
      ),
      keyed as (
        select con.*, (select a.attnum from pg_attribute a where a.attrelid = con.conrelid and a.attname = 'tenant_id') as tenant_attnum
        from pg_constraint con join tenant_tables t on t.oid = con.conrelid
      )
      select format('table %s: %s %s does not include tenant_id', k.conrelid::regclass,
                    case k.contype when 'p' then 'primary key' else 'unique constraint' end, k.conname) as problem
      from keyed k
      where k.contype in ('p', 'u') and not (k.tenant_attnum = any(k.conkey))
      union all
      select format('table %s: primary key is missing', t.oid::regclass)
      from tenant_tables t
      where not exists (select 1 from pg_constraint con where con.conrelid = t.oid and con.contype = 'p')
      union all
      select format('table %s: unique index %s does not include tenant_id', i.indrelid::regclass, i.indexrelid::regclass)
      from pg_index i join tenant_tables t on t.oid = i.indrelid
      where i.indisunique
        and not exists (select 1 from pg_attribute a where a.attrelid = i.indrelid and a.attname = 'tenant_id' and a.attnum = any(i.indkey))
        and not exists (select 1 from pg_constraint con where con.conindid = i.indexrelid)
      union all
      select format('table %s: foreign key %s to tenant table %s does not match on tenant_id',
                    k.conrelid::regclass, k.conname, k.confrelid::regclass)
      from keyed k join tenant_tables target on target.oid = k.confrelid
      where k.contype = 'f'
        and not exists (
          select 1 from unnest(k.conkey, k.confkey) as pair(local, remote)
          where pair.local = k.tenant_attnum
            and pair.remote = (select a.attnum from pg_attribute a where a.attrelid = k.confrelid and a.attname = 'tenant_id')
        )`,
    params: (options) => [options.schemas],
  },
  {
    // Every foreign key has an index.
    sql: `
      select format('table %s: foreign key %s (%s) has no index that starts with its columns', con.conrelid::regclass, con.conname,
                    (select string_agg(a.attname, ', ') from pg_attribute a where a.attrelid = con.conrelid and a.attnum = any(con.conkey))) as problem
      from pg_constraint con
      where con.contype = 'f' and con.connamespace = any($1::regnamespace[])
        and not exists (
          select 1 from pg_index i
          where i.indrelid = con.conrelid
            and (select array_agg(k order by k) from unnest((i.indkey::int2[])[0:cardinality(con.conkey) - 1]) k)
              = (select array_agg(k order by k) from unnest(con.conkey) k)
        )`,
    params: (options) => [options.schemas],
  },
  {
    // Security definer functions pin search_path.
    sql: `
      select format('function %s: is SECURITY DEFINER without a pinned search_path', p.oid::regprocedure) as problem
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
        and not exists (select 1 from unnest(p.proconfig) setting where setting like 'search_path=%')`,
    params: () => [],
  },
  {
    // Runtime roles own nothing and bypass nothing.
    sql: `
      with runtime as (select r.oid, r.rolname, r.rolsuper, r.rolbypassrls from pg_roles r where r.rolname = any($1::text[]))
      select format('role %s: %s', r.rolname, case when r.rolsuper then 'is a superuser' else 'bypasses row level security' end) as problem
      from runtime r where r.rolsuper or r.rolbypassrls
      union all
      select format('role %s: is a member of %s, which owns objects', r.rolname, owner.rolname)
      from runtime r
      join pg_auth_members m on m.member = r.oid
      join pg_roles owner on owner.oid = m.roleid
      where owner.rolname <> all($1::text[])
      union all
      select format('role %s: owns %s %s', r.rolname, o.kind, o.name)
      from runtime r join (
        select relowner as owner, 'relation' as kind, oid::regclass::text as name from pg_class where relnamespace <> 'pg_catalog'::regnamespace
        union all select proowner, 'function', oid::regprocedure::text from pg_proc where pronamespace <> 'pg_catalog'::regnamespace
        union all select nspowner, 'schema', nspname::text from pg_namespace
        union all select typowner, 'type', oid::regtype::text from pg_type where typnamespace <> 'pg_catalog'::regnamespace
      ) o on o.owner = r.oid`,
    params: (options) => [options.runtimeRoles],
  },
  {
    // Anonymous holds no privilege on tables.
    sql: `
      select format('role %s: has %s on %s', $2::text, privilege, c.oid::regclass) as problem
      from pg_class c, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as privilege
      where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm')
        and has_table_privilege($2::text, c.oid, privilege)`,
    params: (options) => [options.schemas, options.anonymousRole],
  },
];

export async function findSchemaProblems(client: pg.ClientBase, options: GuardOptions): Promise<string[]> {
  const problems: string[] = [];
  for (const check of checks) {
    const { rows } = await client.query<{ problem: string }>(check.sql, check.params(options));
    problems.push(...rows.map((row) => row.problem));
  }
  return problems.sort();
}
