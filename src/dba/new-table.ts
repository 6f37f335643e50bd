// `npm run db:new-table -- <name> [column:type…]`: the SQL of a complete tenant table, in
// tenantgraph's conventions (those of 000004 categories and 000005 products), ready for
// migrations/current.sql: composite keys and foreign keys led by tenant_id, forced row
// level security, one policy per command with the tenant roles that may run it, column
// grants, the updated_at trigger, indexes, comments and smart tags. Idempotent (drops
// first), so graphile-migrate watch can re-run it; a table it writes passes the guard.
//
// The same SQL runs on one PostgreSQL and on Citus (docs/citus.md): the table is created
// without foreign keys and passed to app_private.distribute after its policies (on Citus it
// rewrites their helper wrappers, which Citus refuses); every foreign key, to tenants too,
// is added after that (a key to a reference table makes Citus manage the table at once), and
// an optional reference is cleared by a trigger, not `on delete set null (column)`, whose
// column list Citus ignores (it would clear tenant_id too).
//
// Columns: `name:type` (not null), `name:type?` (nullable), `name:type!` (unique within
// the tenant), `name:@table` (a reference to another tenant table's row, by id, within
// the tenant; `?` makes it optional: deleting the row then clears the reference).

export const TENANT_ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

export interface NewTableOptions {
  /** Plural, lower case: `suppliers`. */
  name: string;
  columns: string[];
  schema?: string;
  /** The least role that may read, create and update, delete. */
  roles?: { select: TenantRole; write: TenantRole; delete: TenantRole };
  /** The role name in the grant; a graphile-migrate placeholder by default. */
  visitor?: string;
}

interface Column {
  name: string;
  type: string;
  nullable: boolean;
  unique: boolean;
  references?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const TYPE = /^[a-z][a-z0-9_ .]*(\(\d+(, ?\d+)?\))?(\[\])?$/;

export function parseColumn(spec: string, schema: string): Column {
  const match = /^([^:]+):(.+?)([?!]*)$/.exec(spec);
  if (!match)
    throw new Error(
      `Column "${spec}": write name:type, e.g. name:text, note:text?, code:text!, category_id:@categories`,
    );
  const [, name, type, flags] = match as unknown as [string, string, string, string];
  if (!IDENTIFIER.test(name))
    throw new Error(`Column "${spec}": ${name} is not a plain lower-case identifier`);
  if (['tenant_id', 'id', 'created_at', 'updated_at'].includes(name))
    throw new Error(`Column "${spec}": ${name} is written for you`);
  const nullable = flags.includes('?');
  const unique = flags.includes('!');
  if (type.startsWith('@')) {
    const target = type.slice(1);
    if (!IDENTIFIER.test(target.split('.').at(-1)!))
      throw new Error(`Column "${spec}": ${target} is not a table name`);
    return {
      name,
      type: 'uuid',
      nullable,
      unique,
      references: target.includes('.') ? target : `${schema}.${target}`,
    };
  }
  if (!TYPE.test(type)) throw new Error(`Column "${spec}": ${type} is not a type name`);
  return { name, type, nullable, unique };
}

const singular = (plural: string) =>
  plural
    .replace(/ies$/, 'y')
    .replace(/(ch|sh|x|ss)es$/, '$1')
    .replace(/s$/, '');
const words = (name: string) => name.replace(/_id$/, '').replace(/_/g, ' ');
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
/** A comment with smart tags: E'' so that \n is a line break. */
const tagged = (tags: string, text: string) => `E'${tags}\\n${text.replace(/'/g, "''")}'`;

function rolesFrom(least: TenantRole): string[] {
  // Ordered from most to least powerful, as app_public.membership_role is.
  return [...TENANT_ROLES].reverse().slice(0, [...TENANT_ROLES].reverse().indexOf(least) + 1);
}

export function newTableSql(options: NewTableOptions): string {
  const schema = options.schema ?? 'app_public';
  const { name } = options;
  if (!IDENTIFIER.test(name))
    throw new Error(`Table name "${name}": use a plain lower-case plural, e.g. suppliers`);
  if (!IDENTIFIER.test(schema)) throw new Error(`Schema "${schema}" is not a plain identifier`);
  const roles = options.roles ?? { select: 'viewer', write: 'member', delete: 'admin' };
  const visitor = options.visitor ?? ':DATABASE_VISITOR';
  const table = `${schema}.${name}`;
  const one = singular(name);
  const columns = options.columns.map((spec) => parseColumn(spec, schema));
  const writable = columns.map((column) => column.name);
  const current = '(select app_public.current_tenant_id())';
  const roleCheck = (least: TenantRole) => {
    if (least === 'viewer') return '';
    return ` and (select app_public.current_tenant_role()) in (${rolesFrom(least).map(literal).join(', ')})`;
  };
  const commentOn = (what: string, text: string) => `comment on ${what} is ${literal(text)};`;
  const taggedCommentOn = (what: string, tag: string, text: string) =>
    `comment on ${what} is ${tagged(tag, text)};`;
  const columnComment = (column: (typeof columns)[number]) => {
    const described = `The ${words(one)}'s ${words(column.name)}`;
    if (!column.references) return commentOn(`column ${table}.${column.name}`, `${described}.`);
    const ifAny = column.nullable ? ', if any' : '';
    const referenced = column.references.split('.').at(-1)!.replace(/_/g, ' ');
    return commentOn(
      `column ${table}.${column.name}`,
      `${described}${ifAny}: one of the same tenant's ${referenced}.`,
    );
  };
  const uniqueComment = (column: (typeof columns)[number]) =>
    commentOn(
      `constraint ${name}_tenant_id_${column.name}_key on ${table}`,
      `A tenant cannot have two ${name.replace(/_/g, ' ')} with the same ${words(column.name)}.`,
    );
  const referenceComment = (column: (typeof columns)[number]) =>
    taggedCommentOn(
      `constraint ${name}_tenant_id_${column.name}_fkey on ${table}`,
      `@fieldName ${camel(words(column.name))}`,
      `The ${words(one)}'s ${words(column.name)}, always one of the same tenant's.`,
    );
  const clearer = (column: (typeof columns)[number]) => ({
    fn: `app_private.tg_${name}__clear_${column.name}`,
    trigger: `_100_clear_${name}_${column.name}`,
  });
  // Deleting the referenced row clears the reference (as categories clear products, 000023).
  const clearOnDelete = (column: (typeof columns)[number]) => {
    const { fn } = clearer(column);
    return [
      `create or replace function ${fn}()`,
      `  returns trigger`,
      `  language plpgsql`,
      `  security definer`,
      `  set search_path = pg_catalog, pg_temp`,
      `as $$`,
      `begin`,
      `  update ${table} set ${column.name} = null`,
      `    where tenant_id = old.tenant_id and ${column.name} = old.id;`,
      `  return old;`,
      `end;`,
      `$$;`,
      commentOn(
        `function ${fn}()`,
        `Trigger: a deleted row of ${column.references} leaves the ${name.replace(/_/g, ' ')} that referenced it without one. SECURITY DEFINER because a foreign key's own action ignores row level security too.`,
      ),
      `revoke all on function ${fn}() from public;`,
    ];
  };
  const clearTrigger = (column: (typeof columns)[number]) => {
    const { fn, trigger } = clearer(column);
    return [
      `  drop trigger if exists ${trigger} on ${column.references};`,
      `  create trigger ${trigger} before delete on ${column.references}`,
      `    for each row execute function ${fn}();`,
    ];
  };
  const writes = writable.length ? `, insert (${writable.join(', ')}), update (${writable.join(', ')})` : '';
  const selectPolicy = roles.select === 'viewer' ? 'own_tenant' : `by_${roles.select}`;

  const definitions = [
    `  tenant_id uuid not null default app_public.current_tenant_id()`,
    `  id uuid not null default gen_random_uuid()`,
    ...columns.map((column) => `  ${column.name} ${column.type}${column.nullable ? '' : ' not null'}`),
    `  created_at timestamptz not null default now()`,
    `  updated_at timestamptz not null default now()`,
    `  primary key (tenant_id, id)`,
    ...columns.filter((column) => column.unique).map((column) => `  unique (tenant_id, ${column.name})`),
  ];
  const references = columns.filter((column) => column.references);

  const sql: string[] = [
    `--------------------------------------------------------------------------------`,
    `-- ${name}: a tenant table (npm run db:new-table). Say what a ${one} is in the comments below.`,
    `drop table if exists ${table} cascade;`,
    '',
    `create table ${table} (\n${definitions.join(',\n')}\n);`,
    commentOn(`table ${table}`, `A ${words(one)} of a tenant.`),
    taggedCommentOn(
      `column ${table}.tenant_id`,
      '@behavior -insert -update',
      `The tenant the ${words(one)} belongs to; always the tenant of the request that created it.`,
    ),
    commentOn(`column ${table}.id`, `The ${words(one)}'s id, unique within its tenant.`),
    ...columns.map(columnComment),
    commentOn(`column ${table}.created_at`, `When the ${words(one)} was created.`),
    commentOn(`column ${table}.updated_at`, `When the ${words(one)} was last changed.`),
    ...columns.filter((column) => column.unique).map(uniqueComment),
    '',
    `-- Every query is filtered by tenant (by the policies): indexes lead with tenant_id.`,
    `create index ${name}_tenant_id_created_at_idx on ${table} (tenant_id, created_at);`,
    ...columns
      .filter((column) => column.references && !column.unique)
      .map(
        (column) =>
          `create index ${name}_tenant_id_${column.name}_idx on ${table} (tenant_id, ${column.name});`,
      ),
    '',
    `create trigger _100_set_updated_at before update on ${table}`,
    `  for each row execute function app_private.tg__set_updated_at();`,
    `-- Every change goes into the tenant's audit trail (name secret columns as arguments).`,
    `create trigger _900_audit after insert or update or delete on ${table}`,
    `  for each row execute function app_private.tg__audit();`,
    '',
    `alter table ${table} enable row level security;`,
    `alter table ${table} force row level security;`,
    '',
    `create policy select_${selectPolicy} on ${table} for select`,
    `  using (tenant_id = ${current}${roleCheck(roles.select)});`,
    `create policy insert_by_${roles.write} on ${table} for insert`,
    `  with check (tenant_id = ${current}${roleCheck(roles.write)});`,
    `create policy update_by_${roles.write} on ${table} for update`,
    `  using (tenant_id = ${current}${roleCheck(roles.write)})`,
    `  with check (tenant_id = ${current});`,
    `create policy delete_by_${roles.delete} on ${table} for delete`,
    `  using (tenant_id = ${current}${roleCheck(roles.delete)});`,
    '',
    `-- On Citus: distributed by tenant_id, beside its tenant's other rows (on both engines,`,
    `-- recorded for the schema guard). After the policies, whose (select helper()) wrappers`,
    `-- distribute() rewrites for Citus; before every foreign key, even the one to tenants`,
    `-- (a table with a key to a reference table would become a Citus local table first).`,
    `select app_private.distribute(${literal(table)});`,
    ...references.filter((column) => column.nullable).flatMap(clearOnDelete),
    `-- In a DO block: on Citus, DDL on a distributed table reaches the nodes as its own`,
    `-- statement's text, which must be one command (graphile-migrate sends a file as one).`,
    `do $$`,
    `begin`,
    `  alter table ${table} add constraint ${name}_tenant_id_fkey`,
    `    foreign key (tenant_id) references app_public.tenants on delete cascade;`,
    // tenant_id is part of every reference, so a row can only point at its own tenant's rows.
    ...references.flatMap((column) => [
      `  alter table ${table} add constraint ${name}_tenant_id_${column.name}_fkey`,
      `    foreign key (tenant_id, ${column.name}) references ${column.references} (tenant_id, id);`,
    ]),
    ...references.filter((column) => column.nullable).flatMap(clearTrigger),
    `end;`,
    `$$;`,
    ...references.map(referenceComment),
    '',
    `-- Columns are listed for writes: nobody writes tenant_id, id or the timestamps.`,
    `grant select${writes}, delete on ${table} to ${visitor};`,
    // run_command_on_shards works over connections of its own: the shards must be committed.
    `-- On Citus, once this is committed and applied, the request role needs INSERT on the`,
    `-- shards (the coordinator sends the defaulted columns too): run, outside the migration,`,
    `--   select app_private.citus_grant_shard_inserts();`,
  ];
  return `${sql.join('\n')}\n`;
}

function camel(text: string): string {
  return text.replace(/ (\w)/g, (_, letter: string) => letter.toUpperCase());
}
