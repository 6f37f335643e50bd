// The one reader of PostgreSQL's catalogue for what isolation rests on: tables and their
// row level security flags, policies, and what a role may do (grants). The schema guard,
// the schema dump, the access report, explain-access and tenant portability all read
// these through here, so a policy or a tenant table means the same thing in each of them.
//
// Names print as the session's search_path makes them (`oid::regclass`); the tools pin it
// to pg_catalog, so they come out schema-qualified. No name is looked up by a cast to
// regclass: the development server runs the guard as the authenticator, who may not use
// the schemas.
import type pg from 'pg';

/** Which relations to read: the tables, views, materialized views and foreign tables of some schemas, or one relation by its oid. */
export type Scope = { schemas: string[] } | { relation: number };

const scopeValues = (scope: Scope): [string[] | null, number | null] =>
  'schemas' in scope ? [scope.schemas, null] : [null, scope.relation];

// $1 the schemas or NULL, $2 one relation's oid or NULL.
const IN_SCOPE = (c: string) =>
  `(${c}.oid = $2::oid or (${c}.relnamespace = any($1::regnamespace[]) and ${c}.relkind in ('r', 'p', 'v', 'm', 'f')))`;

/**
 * A tenant table is a table (plain or partitioned) with a `tenant_id` column: the name alone
 * holds it to the tenant rules, so a careless table cannot escape them by lacking the key.
 * As SQL: a `tenant_tables (oid, tenant_attnum)` term for a `with` clause, over the schemas in $1.
 */
export const TENANT_TABLES = `
  tenant_tables as (
    select c.oid, a.attnum as tenant_attnum
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
    where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p')
  )`;

/** A relation (table, view, materialized view, foreign table), with its row level security flags. */
export interface Relation {
  oid: number;
  /** As regclass prints it: schema-qualified and quoted where needed. */
  name: string;
  schema: string;
  /** The bare relation name, unquoted. */
  table: string;
  /** The relation name quoted for SQL, to alias a row of it. */
  alias: string;
  /** pg_class.relkind: r, p, v, m or f (or another, for a relation named by its oid). */
  kind: string;
  /** Row level security enabled. */
  rls: boolean;
  /** Row level security forced on the owner too. */
  force: boolean;
  /** Has a `tenant_id` column. */
  hasTenantId: boolean;
  comment: string | null;
}

/** The relations in scope, ordered by schema and name. */
export async function readRelations(client: pg.ClientBase, scope: Scope): Promise<Relation[]> {
  const { rows } = await client.query<Relation>(
    `select c.oid::int as oid, c.oid::regclass::text as name, n.nspname::text as schema, c.relname::text as table,
            quote_ident(c.relname) as alias, c.relkind::text as kind, c.relrowsecurity as rls, c.relforcerowsecurity as force,
            exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as "hasTenantId",
            obj_description(c.oid, 'pg_class') as comment
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where ${IN_SCOPE('c')}
     order by n.nspname, c.relname`,
    scopeValues(scope),
  );
  return rows;
}

/** A tenant table (TENANT_TABLES): a plain or partitioned table with a tenant_id column. */
export const isTenantTable = (relation: Relation): boolean =>
  (relation.kind === 'r' || relation.kind === 'p') && relation.hasTenantId;

/** pg_policy.polcmd as a word. */
export const POLICY_COMMANDS: Record<string, string> = {
  r: 'select',
  a: 'insert',
  w: 'update',
  d: 'delete',
  '*': 'all',
};

/** A row level security policy. */
export interface Policy {
  /** The oid of its table. */
  relation: number;
  /** Its table's name, as Relation.name. */
  relationName: string;
  /** The policy's name, unquoted. */
  name: string;
  /** The name quoted for SQL (quote_ident). */
  ident: string;
  /** pg_policy.polcmd: r, a, w, d, or * for all (POLICY_COMMANDS). */
  command: string;
  permissive: boolean;
  /** The roles it applies to; `public` for PUBLIC. */
  roles: string[];
  using: string | null;
  check: string | null;
  /** Columns of its own table the policy reads (pg_depend), in column order. */
  reads: string[];
  comment: string | null;
}

/** Every policy on the relations in scope, in no particular order. */
export async function readPolicies(client: pg.ClientBase, scope: Scope): Promise<Policy[]> {
  const { rows } = await client.query<Policy>(
    `select p.polrelid::int as relation, p.polrelid::regclass::text as "relationName", p.polname::text as name,
            quote_ident(p.polname) as ident, p.polcmd::text as command, p.polpermissive as permissive,
            array(select case r when 0 then 'public' else r::regrole::text end from unnest(p.polroles) r) as roles,
            pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check,
            array(select a.attname::text from pg_depend d join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                  where d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refobjid = p.polrelid and d.refobjsubid > 0
                  order by a.attnum) as reads,
            obj_description(p.oid, 'pg_policy') as comment
     from pg_policy p join pg_class c on c.oid = p.polrelid
     where ${IN_SCOPE('c')}`,
    scopeValues(scope),
  );
  return rows;
}

/** What one role may do with one relation, for one command, as PostgreSQL would decide it. */
export interface Privilege {
  relation: number;
  role: string;
  command: 'select' | 'insert' | 'update' | 'delete';
  /** Granted on the whole table. */
  whole: boolean;
  /** Otherwise, the columns it is granted on (select, insert and update only), in column order. */
  columns: string[];
  /** The role may use the relation's schema: without it, no grant is reachable. */
  schemaUsage: boolean;
}

/** Each role's privileges on each relation in scope, commands in the order select, insert, update, delete. */
export async function readPrivileges(
  client: pg.ClientBase,
  scope: Scope,
  roles: string[],
): Promise<Privilege[]> {
  const { rows } = await client.query<Privilege>(
    `select c.oid::int as relation, r as role, lower(k.cmd) as command, has_table_privilege(r, c.oid, k.cmd) as whole,
            array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                  and k.cmd in ('SELECT', 'INSERT', 'UPDATE') and not has_table_privilege(r, c.oid, k.cmd)
                  and has_column_privilege(r, c.oid, a.attnum, k.cmd) order by a.attnum) as columns,
            has_schema_privilege(r, c.relnamespace, 'USAGE') as "schemaUsage"
     from pg_class c, unnest($3::text[]) r, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) with ordinality k(cmd, n)
     where ${IN_SCOPE('c')}
     order by c.oid, r, k.n`,
    [...scopeValues(scope), roles],
  );
  return rows;
}

/** Granted at all: on the whole table or on some of its columns. */
export const isGranted = (privilege: Privilege): boolean => privilege.whole || privilege.columns.length > 0;
