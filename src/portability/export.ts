// Exporting a tenant: one read-only, repeatable-read transaction (a consistent snapshot
// of every table at one moment), each table streamed by COPY straight into its .ndjson
// file, hashed and counted on the way, then packed (archive.ts). Given `connect`, the
// tables are COPYed on several connections at once, every one of them in a transaction
// that imports the first one's snapshot (pg_export_snapshot, SET TRANSACTION SNAPSHOT):
// the same moment, PostgreSQL's JSON building spread over more than one core.
//
// Runs as the owner role (the job worker's and the CLI's login), which bypasses row level
// security: the rows are chosen by tenant_id here, not by a request's policies. The
// tenant id reaches the COPY statements (which take no parameters) as a transaction-local
// setting, never spliced into the SQL.
//
// On Citus (docs/citus.md) the export goes through the coordinator on one connection: a
// snapshot exported there does not reach the workers' transactions, which Citus opens
// at their first query. The setting is a SET LOCAL that Citus sends to the workers, where
// the conditions run, and each worker is read on one connection, so the tenant, whose
// rows of every table are on one worker, is read at one moment.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import {
  fileFor,
  FORMAT,
  FORMAT_VERSION,
  pack,
  writeManifest,
  type Manifest,
  type ManifestTable,
} from './archive.ts';
import { onCitus, readOneConnectionPerWorker, setLocal } from './citus.ts';
import {
  DEFAULT_SCHEMAS,
  ident,
  qualified,
  schemaVersion,
  tableColumns,
  tenantTables,
  TENANTS_TABLE,
  USERS_TABLE,
} from './tables.ts';

// One JSON document per line: CSV with a delimiter and quote JSON text never contains
// (row_to_json escapes every control character), so COPY passes each line through as is.
export const NDJSON_COPY_OPTIONS = `(format csv, delimiter E'\\x01', quote E'\\x02')`;

const qualifiedName = (name: string) => {
  const [schema, table] = name.split('.') as [string, string];
  return qualified({ schema, table });
};

export class TenantNotFoundError extends Error {
  override name = 'TenantNotFoundError';
}

/** The tenant a slug or id names, as the owner sees it. */
export async function findTenant(
  client: pg.ClientBase,
  slugOrId: string,
): Promise<{ id: string; slug: string; name: string }> {
  const { rows } = await client.query<{ id: string; slug: string; name: string }>(
    `select id, slug, name from app_public.tenants where slug = $1 or id::text = lower($1)`,
    [slugOrId],
  );
  if (!rows[0]) throw new TenantNotFoundError(`No tenant has the slug or id ${slugOrId}.`);
  return rows[0];
}

async function copyToFile(
  client: pg.ClientBase,
  sql: string,
  file: string,
): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
      done(null, chunk);
    },
  });
  await pipeline(client.query(copyTo(sql)), count, createWriteStream(file));
  return { rows, sha256: hash.digest('hex') };
}

/** A connection lent for the export, as the same role; `release` gives it back. */
export interface Lease {
  client: pg.ClientBase;
  release(): void | Promise<void>;
}

export interface ExportOptions {
  /** Schemas whose tenant tables are exported (default app_public, app_private). */
  schemas?: string[];
  /** Opens one more connection as the same role; without it every table is read through `client`. */
  connect?: () => Promise<Lease>;
  /** How many connections read tables at once, `client` included, when `connect` is given (default 2). */
  connections?: number;
  /** Signs the manifest (signing.ts); without it the archive is unsigned, and imports trust it only with --untrusted. */
  signingKey?: Buffer;
}

export const DEFAULT_EXPORT_CONNECTIONS = 2;

// The ORDER BY of a large table sorts in memory rather than in temporary files (a 100,000
// row audit trail sorts in about 75 MB); set for the export's transactions only.
const EXPORT_WORK_MEM = '128MB';

// The setting that names the exported tenant in the COPY statements.
const EXPORT_TENANT = 'tenantgraph.export_tenant';

/** Starts the export's transaction on `client`: read only, at one moment, for one tenant. */
async function beginExport(client: pg.ClientBase, tenantId: string | null, snapshot?: string): Promise<void> {
  await client.query('begin isolation level repeatable read read only');
  // SET TRANSACTION SNAPSHOT takes no parameter; the id comes from pg_export_snapshot().
  if (snapshot) await client.query(`set transaction snapshot ${client.escapeLiteral(snapshot)}`);
  await readOneConnectionPerWorker(client);
  const settings: Array<[string, string]> = [['work_mem', EXPORT_WORK_MEM]];
  if (tenantId) settings.push([EXPORT_TENANT, tenantId]);
  await setLocal(client, settings);
}

/** Writes the tenant's archive to `archive` (atomically: a partial file is never left under that name) and returns its manifest. */
export async function exportTenant(
  client: pg.ClientBase,
  tenantId: string,
  archive: string,
  options: ExportOptions = {},
): Promise<Manifest> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-export-'));
  await mkdir(path.join(folder, 'tables'));
  await beginExport(client, null);
  const leases: Lease[] = [];
  try {
    const tenant = await findTenant(client, tenantId);
    await setLocal(client, [[EXPORT_TENANT, tenant.id]]);
    const tenantIs = `current_setting('${EXPORT_TENANT}')::uuid`;
    const tables = await tenantTables(client, options.schemas ?? DEFAULT_SCHEMAS);
    const exported = tables.filter((table) => table.tag !== 'omit');

    // The people the tenant's rows name (members, creators, inviters): users are global,
    // so only these rows of users travel with it.
    const userReferences = exported.flatMap((table) =>
      table.foreignKeys
        .filter((fk) => fk.target === USERS_TABLE && fk.columns.length === 1)
        .map(
          (fk) => `select ${ident(fk.columns[0]!)} from ${qualified(table)} where tenant_id = ${tenantIs}`,
        ),
    );
    const [usersSchema, usersTable] = USERS_TABLE.split('.') as [string, string];
    const [tenantsSchema, tenantsTable] = TENANTS_TABLE.split('.') as [string, string];
    const sources: Array<{
      table: string;
      kind: ManifestTable['kind'];
      tag?: 'history';
      columns: string[];
      sql: string;
    }> = [
      {
        table: TENANTS_TABLE,
        kind: 'tenant',
        columns: (await tableColumns(client, TENANTS_TABLE)).map((c) => c.name),
        sql: `select row_to_json(t) from ${qualified({ schema: tenantsSchema, table: tenantsTable })} t where t.id = ${tenantIs}`,
      },
      {
        table: USERS_TABLE,
        kind: 'users',
        columns: (await tableColumns(client, USERS_TABLE)).map((c) => c.name),
        sql: `select row_to_json(u) from ${qualified({ schema: usersSchema, table: usersTable })} u where u.id in (${userReferences.join(' union ') || 'select null::uuid'}) order by u.id`,
      },
      ...exported.map((table) => ({
        table: table.name,
        kind: 'tenant-table' as const,
        ...(table.tag === 'history' && { tag: 'history' as const }),
        columns: table.columns.filter((c) => !c.generated).map((c) => c.name),
        // Ordered by the primary key, so the same rows give the same file (and checksum).
        sql: `select row_to_json(r) from ${qualified(table)} r where r.tenant_id = ${tenantIs} order by ${table.primaryKey.map((c) => `r.${ident(c)}`).join(', ') || '1'}`,
      })),
    ];

    const readers = [client];
    // On Citus, one connection: another one's worker transactions would start later.
    const wanted =
      options.connect && !(await onCitus(client))
        ? Math.min(options.connections ?? DEFAULT_EXPORT_CONNECTIONS, sources.length)
        : 1;
    if (wanted > 1) {
      const { rows } = await client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot');
      for (let i = 1; i < wanted; i++) {
        const lease = await options.connect!();
        leases.push(lease);
        await beginExport(lease.client, tenant.id, rows[0]!.snapshot);
        readers.push(lease.client);
      }
    }
    // Largest tables first (by the planner's estimate), so no reader is left with a big one at the end.
    const { rows: sizes } = await client.query<{ estimate: number }>(
      `select coalesce((select c.reltuples from pg_class c where c.oid = to_regclass(n)), 0)::float8 as estimate from unnest($1::text[]) with ordinality u(n, i) order by i`,
      [sources.map((source) => qualifiedName(source.table))],
    );
    const queue = sources
      .map((source, index) => ({ source, index }))
      .sort((a, b) => sizes[b.index]!.estimate - sizes[a.index]!.estimate);
    const manifestTables: ManifestTable[] = new Array(sources.length);
    const read = async (reader: pg.ClientBase) => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { source, index } = next;
        const file = fileFor(source.table);
        const { rows, sha256 } = await copyToFile(
          reader,
          `copy (${source.sql}) to stdout with ${NDJSON_COPY_OPTIONS}`,
          path.join(folder, file),
        );
        manifestTables[index] = {
          table: source.table,
          file,
          kind: source.kind,
          ...(source.tag && { tag: source.tag }),
          columns: source.columns,
          rows,
          sha256,
        };
      }
    };
    // Every reader finishes (or fails) before the transactions end: none is left mid-COPY.
    const failed = (await Promise.allSettled(readers.map(read))).find(
      (outcome) => outcome.status === 'rejected',
    );
    if (failed) throw failed.reason;
    const manifest: Manifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      tenant,
      schemaVersion: await schemaVersion(client),
      createdAt: new Date().toISOString(),
      tables: manifestTables,
      omitted: tables.filter((table) => table.tag === 'omit').map((table) => table.name),
    };
    for (const lease of leases) await lease.client.query('commit');
    await client.query('commit');
    await writeManifest(folder, manifest, options.signingKey);
    await mkdir(path.dirname(path.resolve(archive)), { recursive: true });
    const partial = `${archive}.partial`;
    await pack(folder, manifest, partial, !!options.signingKey);
    await rename(partial, archive);
    return manifest;
  } catch (error) {
    for (const lease of leases) await lease.client.query('rollback').catch(() => {});
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    for (const lease of leases) await lease.release();
    await rm(folder, { recursive: true, force: true });
  }
}
