// data/schema.sql: the guarded schemas as DDL, written from the catalogue in a stable
// order, so a reviewer sees a migration's whole effect in one diff (graphile/starter
// commits pg_dump's output the same way).
//
// Why not pg_dump: the embedded PostgreSQL (17) ships none; Debian 12's pg_dump is 15 and
// refuses a 17 server; the only pg_dump binaries on npm are 14.10 (which refuses 15 and 17)
// and a WebAssembly 18.x that talks only to an in-process PGlite. pg_dump's output also
// depends on its own version (18 adds a random \restrict key to every dump) and names the
// deployment's roles. This reads the catalogue and lets the server print each definition
// (pg_get_functiondef, pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef,
// pg_get_expr, pg_get_viewdef), with the search_path pinned, names sorted bytewise and
// roles written as the migrations' placeholders: the same bytes on PostgreSQL 15 and 17,
// with test or production role names. Meant for review, not for restoring.
import type pg from 'pg';
import { POLICY_COMMANDS, readPolicies, readRelations } from './catalogue.ts';

/** The deployment's role names, written as graphile-migrate placeholders. */
export interface RoleNames {
  owner: string;
  authenticator: string;
  visitor: string;
  anonymous: string;
}

export const SCHEMA_DUMP_HEADER = `-- The schemas app_public and app_private as the migrations leave them: written from the
-- catalogue by \`npm run db:dump\` (src/dba/schema-dump.ts), checked by
-- test/schema-dump.test.ts. Do not edit; role names are the migrations' placeholders.`;

const bytewise = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function placeholderFor(roles: RoleNames): (role: string) => string {
  const names = new Map([
    [roles.owner, ':DATABASE_OWNER'],
    [roles.authenticator, ':DATABASE_AUTHENTICATOR'],
    [roles.visitor, ':DATABASE_VISITOR'],
    [roles.anonymous, ':DATABASE_ANONYMOUS'],
    ['-', 'public'],
  ]);
  return (role) => names.get(role) ?? role;
}

interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
  column: string | null;
}

const PRIVILEGE_ORDER = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'USAGE',
  'CREATE',
  'EXECUTE',
];

/** `grant …` lines for one object, one per grantee, the owner's own rights left out. */
function grantLines(grants: Grant[], target: string, role: (name: string) => string): string[] {
  const byGrantee = new Map<string, Grant[]>();
  for (const grant of grants)
    byGrantee.set(role(grant.grantee), [...(byGrantee.get(role(grant.grantee)) ?? []), grant]);
  return [...byGrantee.keys()].sort(bytewise).flatMap((grantee) => {
    const own = byGrantee.get(grantee)!;
    const lines: string[] = [];
    for (const grantable of [false, true]) {
      const mine = own.filter((grant) => grant.grantable === grantable);
      if (mine.length === 0) continue;
      const parts = PRIVILEGE_ORDER.flatMap((privilege) => {
        const whole = mine.some((grant) => grant.privilege === privilege && grant.column === null);
        const columns = mine
          .filter((grant) => grant.privilege === privilege && grant.column !== null)
          .map((grant) => grant.column!);
        return [
          ...(whole ? [privilege.toLowerCase()] : []),
          ...(columns.length ? [`${privilege.toLowerCase()} (${columns.join(', ')})`] : []),
        ];
      });
      lines.push(
        `grant ${parts.join(', ')} on ${target} to ${grantee}${grantable ? ' with grant option' : ''};`,
      );
    }
    return lines;
  });
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const commentLine = (what: string, text: string | null) =>
  text === null ? [] : [`comment on ${what} is ${literal(text)};`];

// Every query takes the schemas as $1 and returns rows already in a stable order, sorted again bytewise here.
const ACL = (acl: string, kind: string, owner: string) =>
  `(select coalesce(json_agg(json_build_object('grantee', case a.grantee when 0 then '-' else a.grantee::regrole::text end,
      'privilege', a.privilege_type, 'grantable', a.is_grantable, 'column', null)), '[]')
    from aclexplode(coalesce(${acl}, acldefault((${kind})::"char", ${owner}))) a where a.grantee <> ${owner})`;

/** Runs one catalogue query with the schemas as $1. */
type Query = <T extends pg.QueryResultRow>(sql: string) => Promise<T[]>;
type Role = (name: string) => string;

export async function dumpSchemas(
  client: pg.ClientBase,
  schemas: string[],
  roles: RoleNames,
): Promise<string> {
  const role = placeholderFor(roles);
  const {
    rows: [before],
  } = await client.query<{ search_path: string }>('show search_path');
  await client.query(`select set_config('search_path', 'pg_catalog, pg_temp', false)`);
  try {
    const query: Query = async (sql) => (await client.query(sql, [schemas])).rows;
    const sections = [
      SCHEMA_DUMP_HEADER,
      ...(await schemaSections(query, schemas, role)),
      ...(await typeSections(query, role)),
      ...(await functionSections(query, role)),
      ...(await relationSections(client, query, schemas, role)),
    ];
    return `${sections.join('\n\n')}\n`;
  } finally {
    await client.query(`select set_config('search_path', $1, false)`, [before!.search_path]);
  }
}

/** `create schema`, its comment and grants, in the order the schemas were asked for. */
async function schemaSections(query: Query, schemas: string[], role: Role): Promise<string[]> {
  const rows = await query<{ name: string; comment: string | null; grants: Grant[] }>(`
      select n.nspname::text as name, obj_description(n.oid, 'pg_namespace') as comment, ${ACL('n.nspacl', "'n'", 'n.nspowner')} as grants
      from pg_namespace n where n.nspname = any($1::text[])`);
  return rows
    .sort((a, b) => schemas.indexOf(a.name) - schemas.indexOf(b.name))
    .map((schema) =>
      [
        `create schema ${schema.name};`,
        ...commentLine(`schema ${schema.name}`, schema.comment),
        ...grantLines(schema.grants, `schema ${schema.name}`, role),
      ].join('\n'),
    );
}

/** Enums, domains and composite types. */
async function typeSections(query: Query, role: Role): Promise<string[]> {
  const types = await query<{ name: string; definition: string; comment: string | null; grants: Grant[] }>(`
      select t.oid::regtype::text as name,
             case t.typtype
               when 'e' then 'create type ' || t.oid::regtype || ' as enum (' ||
                 (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) || ');'
               when 'd' then 'create domain ' || t.oid::regtype || ' as ' || format_type(t.typbasetype, t.typtypmod) ||
                 case when t.typnotnull then ' not null' else '' end ||
                 coalesce(' default ' || t.typdefault, '') ||
                 coalesce((select string_agg(' constraint ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' order by c.conname)
                           from pg_constraint c where c.contypid = t.oid), '') || ';'
               when 'c' then 'create type ' || t.oid::regtype || ' as (' ||
                 (select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum)
                  from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) || ');'
             end as definition,
             obj_description(t.oid, 'pg_type') as comment, ${ACL('t.typacl', "'T'", 't.typowner')} as grants
      from pg_type t
      where t.typnamespace = any($1::regnamespace[]) and t.typtype in ('e', 'd', 'c')
        and (t.typtype <> 'c' or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')`);
  return types
    .sort((a, b) => bytewise(a.name, b.name))
    .map((type) =>
      [
        type.definition,
        ...commentLine(`type ${type.name}`, type.comment),
        ...grantLines(type.grants, `type ${type.name}`, role),
      ].join('\n'),
    );
}

/** Functions and procedures as the server prints them. */
async function functionSections(query: Query, role: Role): Promise<string[]> {
  const functions = await query<{
    name: string;
    definition: string;
    comment: string | null;
    grants: Grant[];
  }>(`
      select p.oid::regprocedure::text as name, pg_get_functiondef(p.oid) as definition,
             obj_description(p.oid, 'pg_proc') as comment, ${ACL('p.proacl', "'f'", 'p.proowner')} as grants
      from pg_proc p where p.pronamespace = any($1::regnamespace[]) and p.prokind in ('f', 'p')`);
  return functions
    .sort((a, b) => bytewise(a.name, b.name))
    .map((fn) => {
      const kind = /^CREATE OR REPLACE PROCEDURE/.test(fn.definition) ? 'procedure' : 'function';
      return [
        `${fn.definition.trimEnd()};`,
        ...commentLine(`${kind} ${fn.name}`, fn.comment),
        ...grantLines(fn.grants, `${kind} ${fn.name}`, role),
      ].join('\n');
    });
}

interface Relation {
  oid: number;
  name: string;
  kind: string;
  options: string[] | null;
  view: string | null;
  comment: string | null;
  columns: Array<{
    name: string;
    type: string;
    notnull: boolean;
    default: string | null;
    generated: string;
    identity: string;
    collation: string | null;
    comment: string | null;
  }>;
  grants: Grant[];
  column_grants: Grant[];
}

/** What hangs off a relation, by the relation's oid. */
interface RelationParts {
  constraints: Array<{
    relation: number;
    name: string;
    kind: string;
    definition: string;
    comment: string | null;
  }>;
  indexes: Array<{ relation: number; name: string; definition: string; comment: string | null }>;
  triggers: Array<{ relation: number; name: string; definition: string; comment: string | null }>;
  rowSecurity: Map<number, { rls: boolean; force: boolean }>;
  policies: Array<{
    relation: number;
    name: string;
    command: string;
    permissive: boolean;
    roles: string[];
    using: string | null;
    check: string | null;
    comment: string | null;
  }>;
}

/** Sequences, tables, views and materialized views, each with everything that hangs off it. */
async function relationSections(
  client: pg.ClientBase,
  query: Query,
  schemas: string[],
  role: Role,
): Promise<string[]> {
  const relations = await query<Relation>(`
      select c.oid, c.oid::regclass::text as name, c.relkind::text as kind,
             c.reloptions as options, case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid, true) end as view,
             obj_description(c.oid, 'pg_class') as comment,
             (select coalesce(json_agg(json_build_object(
                'name', quote_ident(a.attname), 'type', format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull,
                'default', pg_get_expr(d.adbin, d.adrelid), 'generated', a.attgenerated, 'identity', a.attidentity,
                'collation', case when a.attcollation <> t.typcollation then (select quote_ident(co.collname) from pg_collation co where co.oid = a.attcollation) end,
                'comment', col_description(c.oid, a.attnum)) order by a.attnum), '[]')
              from pg_attribute a join pg_type t on t.oid = a.atttypid
              left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
             ${ACL('c.relacl', "case c.relkind when 'S' then 's' else 'r' end", 'c.relowner')} as grants,
             (select coalesce(json_agg(json_build_object('grantee', case g.grantee when 0 then '-' else g.grantee::regrole::text end,
                'privilege', g.privilege_type, 'grantable', g.is_grantable, 'column', quote_ident(a.attname)) order by a.attnum), '[]')
              from pg_attribute a, aclexplode(a.attacl) g
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attacl is not null) as column_grants
      from pg_class c
      where c.relnamespace = any($1::regnamespace[]) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not exists (select 1 from pg_depend dep where dep.objid = c.oid and dep.classid = 'pg_class'::regclass and dep.deptype in ('a', 'i') and c.relkind = 'S')`);
  const parts: RelationParts = {
    constraints: await query(`
      select con.conrelid::int as relation, quote_ident(con.conname) as name, con.contype::text as kind,
             pg_get_constraintdef(con.oid) as definition, obj_description(con.oid, 'pg_constraint') as comment
      from pg_constraint con join pg_class c on c.oid = con.conrelid
      where c.relnamespace = any($1::regnamespace[]) and con.contype in ('p', 'u', 'c', 'x', 'f')`),
    indexes: await query(`
      select i.indrelid::int as relation, quote_ident(ic.relname) as name, pg_get_indexdef(i.indexrelid) as definition,
             obj_description(i.indexrelid, 'pg_class') as comment
      from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid
      where c.relnamespace = any($1::regnamespace[])
        and not exists (select 1 from pg_constraint con where con.conindid = i.indexrelid and con.conrelid = i.indrelid)`),
    triggers: await query(`
      select t.tgrelid::int as relation, quote_ident(t.tgname) as name, pg_get_triggerdef(t.oid) as definition,
             obj_description(t.oid, 'pg_trigger') as comment
      from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace = any($1::regnamespace[]) and not t.tgisinternal`),
    // Row level security flags (sequences have none) and policies, as catalogue.ts reads them;
    // policies by their SQL names, commands as words; PUBLIC is `public`, as placeholderFor writes it.
    rowSecurity: new Map((await readRelations(client, { schemas })).map((r) => [r.oid, r])),
    policies: (await readPolicies(client, { schemas })).map((policy) => ({
      ...policy,
      name: policy.ident,
      command: POLICY_COMMANDS[policy.command] ?? 'all',
    })),
  };
  const KIND_ORDER = ['S', 'r', 'p', 'f', 'v', 'm'];
  return relations
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || bytewise(a.name, b.name))
    .map((relation) => relationSection(relation, parts, role));
}

const of = <T extends { relation: number; name: string }>(rows: T[], relation: number) =>
  rows.filter((row) => row.relation === relation).sort((a, b) => bytewise(a.name, b.name));

/** One relation: its DDL, indexes, triggers, row level security, policies, comments, grants. */
function relationSection(relation: Relation, parts: RelationParts, role: Role): string {
  const target = relation.kind === 'S' ? `sequence ${relation.name}` : `table ${relation.name}`;
  const security = parts.rowSecurity.get(relation.oid);
  return [
    ...relationDdl(relation, of(parts.constraints, relation.oid)),
    ...of(parts.indexes, relation.oid).map((index) => `${index.definition};`),
    ...of(parts.triggers, relation.oid).map((trigger) => `${trigger.definition};`),
    ...(security?.rls ? [`alter table ${relation.name} enable row level security;`] : []),
    ...(security?.force ? [`alter table ${relation.name} force row level security;`] : []),
    ...of(parts.policies, relation.oid).map((policy) => policyDdl(relation.name, policy, role)),
    ...relationComments(relation, parts),
    ...grantLines([...relation.grants, ...relation.column_grants], target, role),
  ].join('\n');
}

/** `create sequence`, `create view`, or `create table` with its constraints. */
function relationDdl(relation: Relation, constraints: RelationParts['constraints']): string[] {
  const withOptions = relation.options?.length
    ? ` with (${[...relation.options].sort(bytewise).join(', ')})`
    : '';
  if (relation.kind === 'S') return [`create sequence ${relation.name};`];
  if (relation.kind === 'v' || relation.kind === 'm')
    return [
      `create ${relation.kind === 'm' ? 'materialized view' : 'view'} ${relation.name}${withOptions} as\n${relation.view!.trimEnd().replace(/;$/, '')};`,
    ];
  const columns = relation.columns.map((column) =>
    [
      `  ${column.name} ${column.type}`,
      column.collation ? ` collate ${column.collation}` : '',
      column.identity ? ` generated ${column.identity === 'a' ? 'always' : 'by default'} as identity` : '',
      column.generated === 's'
        ? ` generated always as (${column.default}) stored`
        : column.default !== null
          ? ` default ${column.default}`
          : '',
      column.notnull ? ' not null' : '',
    ].join(''),
  );
  const CONSTRAINT_ORDER = ['p', 'u', 'x', 'c', 'f'];
  return [
    `create table ${relation.name} (\n${columns.join(',\n')}\n)${withOptions};`,
    ...constraints
      .sort(
        (a, b) =>
          CONSTRAINT_ORDER.indexOf(a.kind) - CONSTRAINT_ORDER.indexOf(b.kind) || bytewise(a.name, b.name),
      )
      .map(
        (constraint) =>
          `alter table ${relation.name} add constraint ${constraint.name} ${constraint.definition};`,
      ),
  ];
}

function policyDdl(table: string, policy: RelationParts['policies'][number], role: Role): string {
  const roles = policy.roles.map(role).sort(bytewise).join(', ');
  return (
    `create policy ${policy.name} on ${table}${policy.permissive ? '' : ' as restrictive'} for ${policy.command}` +
    (roles === 'public' ? '' : ` to ${roles}`) +
    (policy.using !== null ? `\n  using (${policy.using})` : '') +
    (policy.check !== null ? `\n  with check (${policy.check})` : '') +
    ';'
  );
}

/** `comment on` the relation, its columns, constraints, indexes, triggers and policies. */
function relationComments(relation: Relation, parts: RelationParts): string[] {
  const KIND_WORDS: Record<string, string> = { v: 'view', m: 'materialized view', S: 'sequence' };
  const name = relation.name;
  return [
    ...commentLine(`${KIND_WORDS[relation.kind] ?? 'table'} ${name}`, relation.comment),
    ...relation.columns.flatMap((column) => commentLine(`column ${name}.${column.name}`, column.comment)),
    ...of(parts.constraints, relation.oid).flatMap((constraint) =>
      commentLine(`constraint ${constraint.name} on ${name}`, constraint.comment),
    ),
    ...of(parts.indexes, relation.oid).flatMap((index) =>
      commentLine(`index ${name.replace(/[^.]+$/, '')}${index.name}`, index.comment),
    ),
    ...of(parts.triggers, relation.oid).flatMap((trigger) =>
      commentLine(`trigger ${trigger.name} on ${name}`, trigger.comment),
    ),
    ...of(parts.policies, relation.oid).flatMap((policy) =>
      commentLine(`policy ${policy.name} on ${name}`, policy.comment),
    ),
  ];
}
