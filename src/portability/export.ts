// Exporting a tenant: one read-only, repeatable-read transaction (a consistent snapshot
// of every table at one moment), each table streamed by COPY straight into its .ndjson
// file, hashed and counted on the way, then packed (archive.ts).
//
// Runs as the owner role (the job worker's and the CLI's login), which bypasses row level
// security: the rows are chosen by tenant_id here, not by a request's policies. The
// tenant id reaches the COPY statements (which take no parameters) as a transaction-local
// setting, never spliced into the SQL.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { fileFor, FORMAT, FORMAT_VERSION, pack, type Manifest, type ManifestTable } from './archive.ts';
import { DEFAULT_SCHEMAS, ident, qualified, schemaVersion, tableColumns, tenantTables, TENANTS_TABLE, USERS_TABLE } from './tables.ts';

// One JSON document per line: CSV with a delimiter and quote JSON text never contains
// (row_to_json escapes every control character), so COPY passes each line through as is.
export const NDJSON_COPY_OPTIONS = `(format csv, delimiter E'\\x01', quote E'\\x02')`;

export class TenantNotFoundError extends Error {
  override name = 'TenantNotFoundError';
}

/** The tenant a slug or id names, as the owner sees it. */
export async function findTenant(client: pg.ClientBase, slugOrId: string): Promise<{ id: string; slug: string; name: string }> {
  const { rows } = await client.query<{ id: string; slug: string; name: string }>(
    `select id, slug, name from app_public.tenants where slug = $1 or id::text = lower($1)`,
    [slugOrId],
  );
  if (!rows[0]) throw new TenantNotFoundError(`No tenant has the slug or id ${slugOrId}.`);
  return rows[0];
}

async function copyToFile(client: pg.ClientBase, sql: string, file: string): Promise<{ rows: number; sha256: string }> {
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

export interface ExportOptions {
  /** Schemas whose tenant tables are exported (default app_public, app_private). */
  schemas?: string[];
}

/** Writes the tenant's archive to `archive` (atomically: a partial file is never left under that name) and returns its manifest. */
export async function exportTenant(client: pg.ClientBase, tenantId: string, archive: string, options: ExportOptions = {}): Promise<Manifest> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-export-'));
  await mkdir(path.join(folder, 'tables'));
  await client.query('begin isolation level repeatable read read only');
  try {
    const tenant = await findTenant(client, tenantId);
    await client.query(`select set_config('tenantgraph.export_tenant', $1, true)`, [tenant.id]);
    const tenantIs = `current_setting('tenantgraph.export_tenant')::uuid`;
    const tables = await tenantTables(client, options.schemas ?? DEFAULT_SCHEMAS);
    const exported = tables.filter((table) => table.tag !== 'omit');

    // The people the tenant's rows name (members, creators, inviters): users are global,
    // so only these rows of users travel with it.
    const userReferences = exported.flatMap((table) =>
      table.foreignKeys.filter((fk) => fk.target === USERS_TABLE && fk.columns.length === 1).map((fk) => `select ${ident(fk.columns[0]!)} from ${qualified(table)} where tenant_id = ${tenantIs}`),
    );
    const [usersSchema, usersTable] = USERS_TABLE.split('.') as [string, string];
    const [tenantsSchema, tenantsTable] = TENANTS_TABLE.split('.') as [string, string];
    const sources: Array<{ table: string; kind: ManifestTable['kind']; tag?: 'history'; columns: string[]; sql: string }> = [
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

    const manifestTables: ManifestTable[] = [];
    for (const source of sources) {
      const file = fileFor(source.table);
      const { rows, sha256 } = await copyToFile(client, `copy (${source.sql}) to stdout with ${NDJSON_COPY_OPTIONS}`, path.join(folder, file));
      manifestTables.push({ table: source.table, file, kind: source.kind, ...(source.tag && { tag: source.tag }), columns: source.columns, rows, sha256 });
    }
    const manifest: Manifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      tenant,
      schemaVersion: await schemaVersion(client),
      createdAt: new Date().toISOString(),
      tables: manifestTables,
      omitted: tables.filter((table) => table.tag === 'omit').map((table) => table.name),
    };
    await client.query('commit');
    await writeFile(path.join(folder, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await mkdir(path.dirname(path.resolve(archive)), { recursive: true });
    const partial = `${archive}.partial`;
    await pack(folder, manifest, partial);
    await rename(partial, archive);
    return manifest;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
