// Which tables hold a tenant's data, read from the catalogue: the tenant tables of
// src/dba/catalogue.ts (a table of the guarded schemas with a `tenant_id` column), with
// their columns, primary key and foreign keys, parents before children. A table a DBA adds
// later is exported, imported and erased without a code change.
//
// A table's comment may carry one tag line (a smart tag PostGraphile ignores):
//   @tenantExport omit     never exported (credentials, files on this server)
//   @tenantExport history  restored with its own tenant, never copied into a new one
//                          (the audit trail: its row keys name the original ids)
import pg from 'pg';
import { isTenantTable, readRelations } from '../dba/catalogue.ts';

export const TENANTS_TABLE = 'app_public.tenants';
export const USERS_TABLE = 'app_public.users';
export const AUDIT_TABLE = 'app_public.audit_events';
export const DEFAULT_SCHEMAS = ['app_public', 'app_private'];

export interface Column {
  name: string;
  /** The type as format_type writes it. */
  type: string;
  uuid: boolean;
  /** GENERATED … AS IDENTITY. */
  identity: boolean;
  /** GENERATED ALWAYS AS (…) STORED: never written. */
  generated: boolean;
}

export interface ForeignKey {
  columns: string[];
  /** schema.table, unquoted. */
  target: string;
  targetColumns: string[];
}

export interface Table {
  /** schema.table, unquoted: how manifests and reports name it. */
  name: string;
  schema: string;
  table: string;
  columns: Column[];
  primaryKey: string[];
  foreignKeys: ForeignKey[];
  tag: 'omit' | 'history' | undefined;
}

/** The table's name for SQL, each part quoted. */
export function qualified(table: Pick<Table, 'schema' | 'table'>): string {
  return `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.table)}`;
}

export const ident = (name: string) => pg.escapeIdentifier(name);

interface TableRow {
  oid: number;
  schema: string;
  table: string;
  comment: string | null;
  columns: Column[];
  primary_key: string[] | null;
  foreign_keys: ForeignKey[];
}

// $1: the tenant tables' oids.
const COLUMNS_AND_KEYS_SQL = `
  select t.oid, n.nspname as schema, c.relname as table, obj_description(t.oid, 'pg_class') as comment,
         (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'uuid', a.atttypid = 'uuid'::regtype,
                                            'identity', a.attidentity <> '', 'generated', a.attgenerated <> '') order by a.attnum)
          from pg_attribute a where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped) as columns,
         (select array_agg(a.attname::text order by k.n) from pg_constraint con, unnest(con.conkey) with ordinality k(attnum, n)
          join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
          where con.conrelid = t.oid and con.contype = 'p') as primary_key,
         coalesce((select json_agg(json_build_object(
                    'columns', (select array_agg(a.attname order by k.n) from unnest(con.conkey) with ordinality k(attnum, n) join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum),
                    'target', tn.nspname || '.' || tc.relname,
                    'targetColumns', (select array_agg(a.attname order by k.n) from unnest(con.confkey) with ordinality k(attnum, n) join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum)))
                   from pg_constraint con join pg_class tc on tc.oid = con.confrelid join pg_namespace tn on tn.oid = tc.relnamespace
                   where con.conrelid = t.oid and con.contype = 'f'), '[]') as foreign_keys
  from unnest($1::oid[]) t(oid) join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace
  order by 2, 3`;

function tagOf(comment: string | null): Table['tag'] {
  const match = /^@tenantExport\s+(\w+)\s*$/m.exec(comment ?? '');
  if (!match) return undefined;
  if (match[1] !== 'omit' && match[1] !== 'history')
    throw new Error(`@tenantExport ${match[1]}: expected omit or history`);
  return match[1];
}

/** Columns of a global table (tenants, users), in the same shape. */
export async function tableColumns(client: pg.ClientBase, name: string): Promise<Column[]> {
  const [schema, table] = name.split('.') as [string, string];
  const { rows } = await client.query<Column>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.atttypid = 'uuid'::regtype as uuid,
            a.attidentity <> '' as identity, a.attgenerated <> '' as generated
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [schema, table],
  );
  return rows;
}

/** Every tenant table of `schemas`, each after the tables it references (so inserts run in this order, deletes in reverse). */
export async function tenantTables(
  client: pg.ClientBase,
  schemas: string[] = DEFAULT_SCHEMAS,
): Promise<Table[]> {
  const tenant = (await readRelations(client, { schemas })).filter(isTenantTable);
  const { rows } = await client.query<TableRow>(COLUMNS_AND_KEYS_SQL, [tenant.map((table) => table.oid)]);
  const tables = rows.map((row): Table => ({
    name: `${row.schema}.${row.table}`,
    schema: row.schema,
    table: row.table,
    columns: row.columns,
    primaryKey: row.primary_key ?? [],
    foreignKeys: row.foreign_keys,
    tag: tagOf(row.comment),
  }));
  return parentsFirst(tables);
}

function parentsFirst(tables: Table[]): Table[] {
  const byName = new Map(tables.map((table) => [table.name, table]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const ordered: Table[] = [];
  const visit = (table: Table) => {
    if (done.has(table.name)) return;
    if (visiting.has(table.name))
      throw new Error(
        `tenant tables reference each other in a cycle through ${table.name}: an import cannot order them`,
      );
    visiting.add(table.name);
    for (const fk of table.foreignKeys) {
      const parent = byName.get(fk.target);
      // A table referencing itself is fine: foreign keys are checked at the end of each statement.
      if (parent && parent !== table) visit(parent);
    }
    visiting.delete(table.name);
    done.add(table.name);
    ordered.push(table);
  };
  for (const table of tables) visit(table);
  return ordered;
}

/** The latest migration graphile-migrate recorded: the schema version an export carries. */
export interface SchemaVersion {
  /** e.g. "000017" */
  migration: string;
  /** graphile-migrate's hash of it, e.g. "sha1:…" */
  hash: string;
}

export async function schemaVersion(client: pg.ClientBase): Promise<SchemaVersion> {
  const { rows } = await client.query<{ filename: string; hash: string }>(
    'select filename, hash from graphile_migrate.migrations order by filename desc limit 1',
  );
  if (!rows[0])
    throw new Error('graphile_migrate.migrations is empty: migrate the database first (npm run db:migrate)');
  return { migration: rows[0].filename.replace(/\.sql$/, ''), hash: rows[0].hash };
}

/** All migrations this database has, by hash. */
export async function knownMigrations(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ filename: string; hash: string }>(
    'select filename, hash from graphile_migrate.migrations',
  );
  return new Map(rows.map((row) => [row.hash, row.filename.replace(/\.sql$/, '')]));
}
