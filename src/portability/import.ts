// Importing a tenant from an export (docs/portability.md, "Restoring"): the archive is
// verified first (archive.ts: its files, checksums and signature), then everything happens
// in one transaction as the owner, so an import lands whole or not at all.
//
// What may come in is decided here from this database's catalogue, never from the
// manifest: only tenant tables it knows, never one tagged @tenantExport omit (credentials),
// never a credential-like column; the audit trail (@tenantExport history) only with its own
// tenant from a signed archive; people and their memberships only from a signed archive.
//
//   trusted     signed with this server's key (signing.ts): as the server wrote it
//   untrusted   unsigned or foreign, imported only when the operator says so
//               (`untrusted`), and then only as a copy and only the tenant's data: no
//               people, no table that grants a person access (a primary key naming a
//               user: memberships), no trail, and every other reference to a person null
//
//   as itself   the tenant keeps its id, slug and row ids; refused while a tenant with
//               that id or slug exists, unless `replace` (its rows are erased first)
//   as a copy   `as: <new slug>`: a new tenant id, and every id of its own (uuid primary
//               key columns that reference nothing) is new; every foreign key column that
//               points at such an id, found in pg_constraint, is remapped with it. User ids
//               are identities from the identity provider (the token's `sub`) and are kept.
//               Tables tagged @tenantExport history (the audit trail) are not copied.
//
// People are linked by user id only. One who exists is left as is; one who does not (a
// signed restore after an off-boarding removed them) is made again with that id and
// nothing else the archive says about them: no email (an address comes only from a
// verified token), so an archive can never hand an address to an account.
//
// Each file is COPYed into a temporary staging table of JSON documents, and each table is
// then filled by one INSERT … SELECT from jsonb_populate_record, remapping in SQL. On
// Citus the staging tables stay on the coordinator, which sends the rows to the shards
// (docs/citus.md).
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ArchiveError, openArchive, type Manifest, type ManifestTable } from './archive.ts';
import { onCitus, writeOneConnectionPerWorker } from './citus.ts';
import { eraseTenantRows } from './erase.ts';
import { NDJSON_COPY_OPTIONS } from './export.ts';
import type { SigningKeys } from './signing.ts';
import {
  DEFAULT_SCHEMAS,
  ident,
  knownMigrations,
  qualified,
  schemaVersion,
  tableColumns,
  tenantTables,
  TENANTS_TABLE,
  USERS_TABLE,
  type Column,
  type Table,
} from './tables.ts';

type ImportErrorCode =
  | 'SCHEMA_TOO_NEW'
  | 'TENANT_EXISTS'
  | 'SLUG_TAKEN'
  | 'TABLE_MISSING'
  | 'TABLE_REFUSED'
  | 'ROWS_MISMATCH'
  | 'UNTRUSTED_AS_ITSELF'
  | 'OWNER_UNKNOWN';

export class ImportError extends Error {
  override name = 'ImportError';
  readonly code: ImportErrorCode;
  constructor(code: ImportErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ImportOptions {
  /** Import as a new tenant with this slug (new ids); unset: as the tenant it was. */
  as?: string | undefined;
  /** As itself: erase an existing tenant with its id first (its rows only; its people stay). */
  replace?: boolean | undefined;
  schemas?: string[] | undefined;
  /** The keys that verify an archive's signature (signing.ts); none: every archive is untrusted. */
  keys?: Pick<SigningKeys, 'verifying'> | undefined;
  /** Import an unsigned or foreign archive anyway: as a copy, tenant data only. */
  untrusted?: boolean | undefined;
  /** An existing account (by user id) made owner of the imported tenant: how an untrusted copy gets one. */
  owner?: string | undefined;
}

export interface ImportResult {
  tenantId: string;
  slug: string;
  /** Rows inserted per table. */
  rows: Record<string, number>;
  /** Whether the archive's signature verified. */
  trusted: boolean;
  /** Tables of the archive left out, and why (an untrusted archive's people, a copy's trail). */
  skipped: Record<string, string>;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Imports the archive at `file` through `client` (a connection as the owner, outside any transaction). */
export async function importTenant(
  client: pg.ClientBase,
  file: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  if (options.as !== undefined && !SLUG.test(options.as))
    throw new ImportError(
      'SLUG_TAKEN',
      `${options.as} is not a slug: lower-case letters, digits and inner hyphens, at most 63 characters`,
    );
  const archive = await openArchive(file, options.keys);
  try {
    if (!archive.trusted && !options.untrusted)
      throw new ArchiveError(
        'ARCHIVE_UNTRUSTED',
        `${file} is not trusted: ${archive.distrust}. Nothing was imported. To import its tenant data only (no people, no memberships, no audit trail) as a new tenant, say so: --untrusted --as <new-slug> [--owner <user id>].`,
      );
    if (!archive.trusted && options.as === undefined)
      throw new ImportError(
        'UNTRUSTED_AS_ITSELF',
        `${file} is not trusted (${archive.distrust}): it can only be imported as a copy with new ids (--as <new-slug>), never over a tenant's own id.`,
      );
    await client.query('begin');
    try {
      const result = await load(client, archive.manifest, archive.folder, {
        ...options,
        trusted: archive.trusted,
      });
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  } finally {
    await archive.close();
  }
}

async function checkSchemaVersion(client: pg.ClientBase, manifest: Manifest): Promise<void> {
  const known = await knownMigrations(client);
  if (known.has(manifest.schemaVersion.hash)) return;
  const current = await schemaVersion(client);
  const newer = manifest.schemaVersion.migration > current.migration;
  throw new ImportError(
    'SCHEMA_TOO_NEW',
    newer
      ? `The export is from schema version ${manifest.schemaVersion.migration}, newer than this database's ${current.migration}: migrate this database first (npm run db:migrate), then import.`
      : `The export's schema version ${manifest.schemaVersion.migration} (${manifest.schemaVersion.hash}) is not one this database went through (it is at ${current.migration}): it comes from another history of migrations.`,
  );
}

interface Staged {
  entry: ManifestTable;
  stage: string;
}

// Columns that hold a credential by their name: never imported, even from a signed archive
// (they take their defaults); the tables made for credentials are tagged omit.
const CREDENTIAL_COLUMN = /(^|_)(secret|password|token)(s?)(_|$)|(^|_)hash$/;

/** Tables granting a person access: a primary-key column that names a user (memberships). */
function grantsAccess(table: Table): boolean {
  return table.foreignKeys.some(
    (fk) => fk.target === USERS_TABLE && fk.columns.some((column) => table.primaryKey.includes(column)),
  );
}

/** Columns referencing a person (created_by, invited_by, actor_user_id …). */
function userColumns(table: Table): string[] {
  return table.foreignKeys.filter((fk) => fk.target === USERS_TABLE).flatMap((fk) => fk.columns);
}

/** What the catalogue lets in of `entry`, or why not (a reason to skip); throws when the archive asks for the forbidden. */
function admit(
  entry: ManifestTable,
  table: Table | undefined,
  globals: Map<string, Column[]>,
  options: { copy: boolean; trusted: boolean },
): string | undefined {
  const expected = entry.kind === 'tenant' ? TENANTS_TABLE : entry.kind === 'users' ? USERS_TABLE : undefined;
  if (expected !== undefined ? entry.table !== expected : !table) {
    throw new ImportError(
      entry.kind === 'tenant-table' && !globals.has(entry.table) ? 'TABLE_MISSING' : 'TABLE_REFUSED',
      entry.kind === 'tenant-table' && !globals.has(entry.table)
        ? `The export has rows of ${entry.table}, which this database has no tenant table for: create it (or migrate) first.`
        : `The export lists ${entry.table} as ${entry.kind}, which this database does not: nothing was imported.`,
    );
  }
  if (table?.tag === 'omit')
    throw new ImportError(
      'TABLE_REFUSED',
      `The archive holds rows of ${entry.table}, which is never exported (@tenantExport omit: credentials, or rows about files on one server); no export writes it, so the archive was made or edited by hand. Nothing was imported.`,
    );
  if (entry.kind === 'users' && !options.trusted) return 'people come only with a signed archive';
  if (table && grantsAccess(table) && !options.trusted) return 'memberships come only with a signed archive';
  if (table?.tag === 'history') {
    if (!options.trusted) return 'the audit trail comes only with a signed archive';
    if (options.copy) return 'the audit trail is restored with its own tenant, not copied';
  }
  return undefined;
}

async function load(
  client: pg.ClientBase,
  manifest: Manifest,
  folder: string,
  options: ImportOptions & { trusted: boolean },
): Promise<ImportResult> {
  await checkSchemaVersion(client, manifest);
  await writeOneConnectionPerWorker(client);
  const citus = await onCitus(client);
  const copy = options.as !== undefined;
  const trusted = options.trusted;
  const tables = new Map(
    (await tenantTables(client, options.schemas ?? DEFAULT_SCHEMAS)).map((table) => [table.name, table]),
  );
  const globals = new Map<string, Column[]>([
    [TENANTS_TABLE, await tableColumns(client, TENANTS_TABLE)],
    [USERS_TABLE, await tableColumns(client, USERS_TABLE)],
  ]);
  const skipped: Record<string, string> = {};
  const admitted: ManifestTable[] = [];
  const listed = new Set<string>();
  for (const entry of manifest.tables) {
    if (listed.has(entry.table))
      throw new ImportError(
        'TABLE_REFUSED',
        `The manifest lists ${entry.table} twice: nothing was imported.`,
      );
    listed.add(entry.table);
    const table = entry.kind === 'tenant-table' ? tables.get(entry.table) : undefined;
    const why = admit(entry, table, globals, { copy, trusted });
    if (why) {
      skipped[entry.table] = why;
      continue;
    }
    const columns = table?.columns ?? globals.get(entry.table)!;
    const missing = entry.columns.filter((name) => !columns.some((c) => c.name === name));
    if (missing.length)
      throw new ImportError(
        'TABLE_MISSING',
        `The export has columns ${missing.join(', ')} of ${entry.table}, which this database lacks: nothing was imported.`,
      );
    admitted.push(entry);
  }
  if (admitted.filter((entry) => entry.kind === 'tenant').length !== 1)
    throw new ImportError(
      'TABLE_REFUSED',
      'The archive must hold exactly one tenant row file: nothing was imported.',
    );

  const tenantId = copy ? randomUUID() : manifest.tenant.id;
  const slug = options.as ?? manifest.tenant.slug;
  const { rows: clashes } = await client.query<{ id: string; slug: string }>(
    'select id, slug from app_public.tenants where id = $1 or slug = $2 for update',
    [tenantId, slug],
  );
  if (clashes.some((t) => t.slug === slug && t.id !== tenantId)) {
    throw new ImportError(
      'SLUG_TAKEN',
      `Another tenant has the slug ${slug}: import as a copy with another (--as <new-slug>).`,
    );
  }
  if (clashes.length) {
    if (!options.replace)
      throw new ImportError(
        'TENANT_EXISTS',
        `Tenant ${slug} (${tenantId}) exists: import it as a copy (--as <new-slug>), or replace it (--replace erases its rows first).`,
      );
    await eraseTenantRows(client, tenantId, [...tables.values()], { keepHistory: true });
  }
  if (options.owner !== undefined) {
    const { rowCount } = await client.query('select 1 from app_public.users where id::text = lower($1)', [
      options.owner,
    ]);
    if (!rowCount)
      throw new ImportError(
        'OWNER_UNKNOWN',
        `No account has the id ${options.owner}: the owner must have signed in here before (an import never makes an account for an owner).`,
      );
  }

  const staged: Staged[] = [];
  for (const [index, entry] of admitted.entries()) {
    const stage = `tg_stage_${index}`;
    await client.query(`create temporary table ${stage} (doc jsonb not null) on commit drop`);
    await pipeline(
      createReadStream(path.join(folder, entry.file)),
      client.query(copyFrom(`copy ${stage} (doc) from stdin with ${NDJSON_COPY_OPTIONS}`)),
    );
    staged.push({ entry, stage });
  }

  const rows: Record<string, number> = {};
  // The temporary maps of old to new ids made so far (a copy only).
  const maps = copy ? new Set<string>() : null;
  for (const { entry, stage } of staged) {
    if (entry.kind === 'tenant') {
      const columns = entry.columns.filter((c) => !CREDENTIAL_COLUMN.test(c));
      const values = columns.map((c) =>
        c === 'id'
          ? '$1::uuid'
          : c === 'slug'
            ? '$2::text'
            : `(jsonb_populate_record(null::${qualifiedName(entry.table)}, $3::jsonb)).${ident(c)}`,
      );
      // With VALUES, not INSERT … SELECT from the stage: on Citus that streams the row to
      // every copy of tenants (a reference table) by COPY, during which the audit trigger
      // of the coordinator's copy cannot write the trail on a worker. The file holds one row.
      const { rows: docs } = await client.query<{ doc: string }>(`select doc::text as doc from ${stage}`);
      let inserted = 0;
      for (const { doc } of docs) {
        const { rowCount } = await client.query(
          `insert into ${qualifiedName(entry.table)} (${columns.map(ident).join(', ')}) values (${values.join(', ')})`,
          [tenantId, slug, doc],
        );
        inserted += rowCount ?? 0;
      }
      rows[entry.table] = inserted;
    } else if (entry.kind === 'users') {
      // People are global and linked by id. One who exists is left as is; one who does not
      // is made again with the id alone: nothing the archive claims (an email, a name)
      // becomes part of an account.
      const { rowCount } = await client.query(
        `insert into ${qualifiedName(entry.table)} (id)
         select (s.doc ->> 'id')::uuid from ${stage} s
         on conflict (id) do nothing`,
      );
      rows[entry.table] = rowCount ?? 0;
    } else {
      const table = tables.get(entry.table)!;
      rows[entry.table] = await insertTenantRows(client, table, entry, stage, tenantId, maps, trusted, citus);
      const expected = entry.rows;
      if (table.tag !== 'history' && rows[entry.table] !== expected) {
        throw new ImportError(
          'ROWS_MISMATCH',
          `${entry.table}: ${rows[entry.table]} rows inserted, the export has ${expected}: nothing was imported.`,
        );
      }
    }
  }
  if (options.owner !== undefined) {
    await client.query(
      `insert into app_public.memberships (tenant_id, user_id, role) values ($1, lower($2)::uuid, 'owner')
       on conflict (tenant_id, user_id) do update set role = 'owner'`,
      [tenantId, options.owner],
    );
  }
  // Restored as itself, the tenant is no longer an erased one: its record of erasure goes.
  if (!copy)
    await client.query('delete from app_private.tenant_erasures where erased_tenant_id = $1', [tenantId]);
  return { tenantId, slug, rows, trusted, skipped };
}

const qualifiedName = (name: string) => {
  const [schema, table] = name.split('.') as [string, string];
  return qualified({ schema, table });
};

/** The map of old to new ids of `table.column`, for a copy. */
const mapName = (table: string, column: string) =>
  `tg_map_${createHash('sha256').update(`${table}.${column}`).digest('hex').slice(0, 32)}`;

// Own ids: uuid columns of the primary key besides tenant_id that reference nothing.
function ownIds(table: Table): string[] {
  const referencing = new Set(table.foreignKeys.flatMap((fk) => fk.columns));
  return table.primaryKey.filter(
    (name) =>
      name !== 'tenant_id' && !referencing.has(name) && table.columns.find((c) => c.name === name)?.uuid,
  );
}

async function insertTenantRows(
  client: pg.ClientBase,
  table: Table,
  entry: ManifestTable,
  stage: string,
  tenantId: string,
  maps: Set<string> | null,
  trusted: boolean,
  citus: boolean,
): Promise<number> {
  const copy = maps !== null;
  const columns = table.columns.filter(
    (c) =>
      entry.columns.includes(c.name) &&
      !c.generated &&
      !(copy && c.identity) &&
      !CREDENTIAL_COLUMN.test(c.name),
  );
  const joins: string[] = [];
  const expression = new Map<string, string>();
  expression.set('tenant_id', '$1::uuid');
  // From an untrusted archive no row names a person: who created or invited what is not
  // taken on its word (the column is null, as when that person is removed).
  if (!trusted) for (const column of userColumns(table)) expression.set(column, 'null');
  if (maps) {
    for (const column of ownIds(table)) {
      const map = mapName(table.name, column);
      // Read straight from the document (an own id is a uuid): building every row's record here cost more than the rest of the map.
      await client.query(
        `create temporary table ${map} on commit drop as
         select distinct (s.doc ->> ${client.escapeLiteral(column)})::uuid as old, gen_random_uuid() as new from ${stage} s`,
      );
      await client.query(`alter table ${map} add primary key (old)`);
      maps.add(map);
      joins.push(`left join ${map} m_${joins.length} on m_${joins.length}.old = r.${ident(column)}`);
      expression.set(column, `m_${joins.length - 1}.new`);
    }
    // Every column that references a remapped id follows it.
    for (const fk of table.foreignKeys) {
      fk.columns.forEach((column, i) => {
        if (column === 'tenant_id' || expression.has(column)) return;
        const target = fk.targetColumns[i]!;
        const map = mapName(fk.target, target);
        if (!maps.has(map)) return;
        joins.push(`left join ${map} m_${joins.length} on m_${joins.length}.old = r.${ident(column)}`);
        expression.set(column, `m_${joins.length - 1}.new`);
      });
    }
  }
  const names = columns.map((c) => ident(c.name));
  const values = columns.map((c) => expression.get(c.name) ?? `r.${ident(c.name)}`);
  const overriding = columns.some((c) => c.identity) ? 'overriding system value' : '';
  // The trail restored with its tenant may meet the events kept, pseudonymised, from its
  // off-boarding: the export's own words replace them.
  const updatable = columns.filter((c) => !table.primaryKey.includes(c.name));
  const conflict =
    table.tag === 'history' && table.primaryKey.length
      ? `on conflict (${table.primaryKey.map(ident).join(', ')}) do ${updatable.length ? `update set ${updatable.map((c) => `${ident(c.name)} = excluded.${ident(c.name)}`).join(', ')}` : 'nothing'}`
      : '';
  const { rowCount } = await client.query(
    `insert into ${qualified(table)} (${names.join(', ')}) ${overriding}
     select ${values.join(', ')} from ${stage} s cross join lateral jsonb_populate_record(null::${qualified(table)}, s.doc) r ${joins.join(' ')} ${conflict}`,
    [tenantId],
  );
  // Identities kept from the export must not be handed out again by their sequence. Not
  // on Citus: there each node has a sequence of its own, over its own range (the workers'
  // triggers write the trail), and moving the coordinator's into a worker's range would
  // make the two hand out the same ids (docs/citus.md).
  for (const column of citus ? [] : columns.filter((c) => c.identity)) {
    await client.query(
      `select setval(seq, greatest(top, coalesce(pg_sequence_last_value(seq), 1)))
       from (select pg_get_serial_sequence($1, $2)::regclass as seq) s, (select max(${ident(column.name)}) as top from ${qualified(table)}) m
       where top is not null`,
      [qualified(table), column.name],
    );
  }
  return rowCount ?? 0;
}
