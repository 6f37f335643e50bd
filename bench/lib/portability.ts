// The portability section: export and import throughput of one tenant, beside COPY of
// the same rows, the ceiling (docs/portability.md, "Throughput").
//
//   export   exportTenant (a repeatable-read snapshot, COPY of row_to_json rows per table
//            on two connections sharing it, hashing, gzip) of a tenant of `rows`
//            products, their categories and their audit events, against COPY … TO STDOUT
//            of the same rows (text format, discarded) on as many connections sharing a
//            snapshot: the same conditions; the one-connection COPY is logged beside it
//   import   importTenant as a copy (verify, stage, remap every id, insert, one
//            transaction) against COPY … FROM STDIN of the same categories and products
//            into their tables under a fresh tenant: no remapping, but the same foreign
//            keys checked and the same audit trigger firing (the conditions of production)
//
// The section makes its own tenants in the bench database and erases them when done.
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { eraseTenant } from '../../src/portability/erase.ts';
import { DEFAULT_EXPORT_CONNECTIONS, exportTenant } from '../../src/portability/export.ts';
import { importTenant } from '../../src/portability/import.ts';
import { qualified, tenantTables } from '../../src/portability/tables.ts';
import type { Target } from './measured.ts';
import { ratio, round } from './stats.ts';

export interface PortabilityResult {
  /** Products of the tenant measured. */
  products: number;
  export: {
    rows: number;
    seconds: number;
    rowsPerSecond: number;
    connections: number;
    ceilingRowsPerSecond: number;
    oneConnectionCeilingRowsPerSecond: number;
    archiveBytes: number;
  };
  import: {
    rows: number;
    seconds: number;
    rowsPerSecond: number;
    ceilingRows: number;
    ceilingRowsPerSecond: number;
  };
}

export const PORTABILITY_TARGET = 0.5;

const seconds = (from: number) => (performance.now() - from) / 1000;

/** COPY … TO STDOUT of every statement, discarded, on `clients` at once (each takes the next statement). */
async function copyOut(clients: pg.Client[], statements: string[]): Promise<void> {
  const queue = [...statements];
  await Promise.all(
    clients.map(async (client) => {
      for (let sql = queue.shift(); sql; sql = queue.shift())
        await pipeline(
          client.query(copyTo(sql)),
          new Writable({ write: (_chunk, _encoding, done) => done() }),
        );
    }),
  );
}

export async function runPortability(options: {
  ownerUrl: string;
  rows: number;
  log: (line: string) => void;
}): Promise<PortabilityResult> {
  const client = new pg.Client({ connectionString: options.ownerUrl });
  await client.connect();
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-bench-portability-'));
  const tenantId = randomUUID();
  const ceilingTenantId = randomUUID();
  let copyId: string | undefined;
  try {
    for (const [id, slug] of [
      [tenantId, `bench-port-${tenantId.slice(0, 8)}`],
      [ceilingTenantId, `bench-ceil-${ceilingTenantId.slice(0, 8)}`],
    ]) {
      await client.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $2)', [id, slug]);
    }
    await client.query(
      `insert into app_public.categories (tenant_id, name) select $1, 'Category ' || i from generate_series(1, 100) i`,
      [tenantId],
    );
    await client.query(
      `insert into app_public.products (tenant_id, name, price, category_id)
       select $1, 'Product ' || i, (i % 1000) + 0.99, (select id from app_public.categories where tenant_id = $1 and name = 'Category ' || (1 + i % 100))
       from generate_series(1, $2::int) i`,
      [tenantId, options.rows],
    );
    await client.query('analyze app_public.products, app_public.categories, app_public.audit_events');

    // Export, and its ceiling: the same rows of the same tables, COPY in text format, discarded.
    const archive = path.join(folder, 'tenant.tar.gz');
    let started = performance.now();
    const connect = async () => {
      const other = new pg.Client({ connectionString: options.ownerUrl });
      await other.connect();
      return other;
    };
    // Signed, as the server signs (the HMAC over the manifest is microseconds); the import verifies it.
    const signingKey = randomBytes(32);
    const manifest = await exportTenant(client, tenantId, archive, {
      signingKey,
      connect: async () => {
        const other = await connect();
        return { client: other, release: () => other.end() };
      },
    });
    const exportSeconds = seconds(started);
    const exportedRows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
    const tables = (await tenantTables(client)).filter((t) => t.tag !== 'omit');
    const statements = tables.map(
      (table) =>
        `copy (select * from ${qualified(table)} where tenant_id = current_setting('tenantgraph.bench_tenant')::uuid) to stdout`,
    );
    await client.query(`select set_config('tenantgraph.bench_tenant', $1, false)`, [tenantId]);
    // The ceiling in the export's conditions: as many connections, one snapshot.
    const others = await Promise.all(Array.from({ length: DEFAULT_EXPORT_CONNECTIONS - 1 }, connect));
    try {
      await client.query('begin isolation level repeatable read read only');
      const { rows } = await client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot');
      for (const other of others) {
        await other.query('begin isolation level repeatable read read only');
        await other.query(`set transaction snapshot ${other.escapeLiteral(rows[0]!.snapshot)}`);
        await other.query(`select set_config('tenantgraph.bench_tenant', $1, true)`, [tenantId]);
      }
      started = performance.now();
      await copyOut([client, ...others], statements);
    } finally {
      for (const other of others) await other.end();
      await client.query('commit');
    }
    const exportCeilingSeconds = seconds(started);
    started = performance.now();
    await copyOut([client], statements);
    const oneConnectionCeilingSeconds = seconds(started);
    options.log(
      `  export: ${exportedRows} rows in ${round(exportSeconds, 2)} s on ${DEFAULT_EXPORT_CONNECTIONS} connections; COPY of the same rows ${round(exportCeilingSeconds, 2)} s on as many, ${round(oneConnectionCeilingSeconds, 2)} s on one`,
    );

    // Import as a copy, and its ceiling: the same categories and products COPYed into their
    // tables under a fresh tenant (the same ids: the keys start with tenant_id), so every
    // foreign key is checked and the audit trigger fires, as they do for the import.
    started = performance.now();
    const imported = await importTenant(client, archive, {
      as: `bench-copy-${randomUUID().slice(0, 8)}`,
      keys: { verifying: [signingKey] },
    });
    const importSeconds = seconds(started);
    copyId = imported.tenantId;
    const importedRows = Object.values(imported.rows).reduce((sum, n) => sum + n, 0);
    await client.query(`select set_config('tenantgraph.bench_ceiling', $1, false)`, [ceilingTenantId]);
    const ceilingTables = [
      { table: 'app_public.categories', columns: ['id', 'name', 'created_at'] },
      {
        table: 'app_public.products',
        columns: ['id', 'category_id', 'name', 'price', 'created_at', 'updated_at'],
      },
    ];
    for (const { table, columns } of ceilingTables) {
      await pipeline(
        client.query(
          copyTo(
            `copy (select current_setting('tenantgraph.bench_ceiling')::uuid, ${columns.join(', ')} from ${table} where tenant_id = current_setting('tenantgraph.bench_tenant')::uuid) to stdout`,
          ),
        ),
        createWriteStream(path.join(folder, `${table}.copy`)),
      );
    }
    started = performance.now();
    for (const { table, columns } of ceilingTables) {
      await pipeline(
        createReadStream(path.join(folder, `${table}.copy`)),
        client.query(copyFrom(`copy ${table} (tenant_id, ${columns.join(', ')}) from stdin`)),
      );
    }
    const importCeilingSeconds = seconds(started);
    const ceilingRows = Number(
      (
        await client.query(
          'select (select count(*) from app_public.products where tenant_id = $1) + (select count(*) from app_public.categories where tenant_id = $1) as n',
          [ceilingTenantId],
        )
      ).rows[0].n,
    );
    options.log(
      `  import: ${importedRows} rows in ${round(importSeconds, 2)} s; COPY of ${ceilingRows} rows ${round(importCeilingSeconds, 2)} s`,
    );

    return {
      products: options.rows,
      export: {
        rows: exportedRows,
        seconds: round(exportSeconds, 3),
        rowsPerSecond: Math.round(exportedRows / exportSeconds),
        connections: DEFAULT_EXPORT_CONNECTIONS,
        ceilingRowsPerSecond: Math.round(exportedRows / exportCeilingSeconds),
        oneConnectionCeilingRowsPerSecond: Math.round(exportedRows / oneConnectionCeilingSeconds),
        archiveBytes: (await stat(archive)).size,
      },
      import: {
        rows: importedRows,
        seconds: round(importSeconds, 3),
        rowsPerSecond: Math.round(importedRows / importSeconds),
        ceilingRows,
        ceilingRowsPerSecond: Math.round(ceilingRows / importCeilingSeconds),
      },
    };
  } finally {
    await client
      .query(
        `select set_config('tenantgraph.bench_tenant', '', false), set_config('tenantgraph.bench_ceiling', '', false)`,
      )
      .catch(() => {});
    for (const id of [tenantId, ceilingTenantId, copyId].filter((x): x is string => !!x)) {
      await eraseTenant(client, id, { auditRetentionDays: 0 }).catch((error: unknown) =>
        options.log(`  could not erase bench tenant ${id}: ${(error as Error).message}`),
      );
    }
    await client.end();
    await rm(folder, { recursive: true, force: true });
  }
}

export function portabilityTargets(result: PortabilityResult | { error: string }): Target[] {
  const names = [
    'portability: export rows/s vs COPY of the same rows',
    'portability: import (as a copy) rows/s vs COPY into the same tables',
  ];
  if ('error' in result)
    return names.map((name) => ({
      name,
      goal: '>= 50%',
      measured: `failed: ${result.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    }));
  return [
    [
      names[0]!,
      result.export.rowsPerSecond,
      result.export.ceilingRowsPerSecond,
      `${result.export.rows} rows`,
    ] as const,
    [
      names[1]!,
      result.import.rowsPerSecond,
      result.import.ceilingRowsPerSecond,
      `${result.import.rows} rows`,
    ] as const,
  ].map(([name, measured, ceiling, what]) => {
    const share = ratio(measured, ceiling);
    return {
      name,
      goal: '>= 50%',
      measured: `${measured}/s vs ${ceiling}/s (${what}) = ${Math.round(share * 100)}%`,
      ratio: Number.isNaN(share) ? null : share,
      met: share >= PORTABILITY_TARGET,
    };
  });
}

export function renderPortability(result: PortabilityResult | { error: string }): string[] {
  const out = ['\n## Portability\n'];
  if ('error' in result) return [...out, `Failed: ${result.error}`];
  out.push(
    `A tenant of ${result.products} products (with their categories and audit events), exported and imported as a copy, beside COPY of the same rows. ` +
      `The export reads on ${result.export.connections} connections sharing one snapshot, and so does its COPY ceiling (COPY on one connection: ${result.export.oneConnectionCeilingRowsPerSecond} rows/s). ` +
      'The import COPY fires the audit trigger, as every insert does.\n',
    '| | rows | seconds | rows/s | COPY rows/s | share |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| export | ${result.export.rows} | ${result.export.seconds} | ${result.export.rowsPerSecond} | ${result.export.ceilingRowsPerSecond} | ${Math.round((result.export.rowsPerSecond / result.export.ceilingRowsPerSecond) * 100)}% |`,
    `| import | ${result.import.rows} | ${result.import.seconds} | ${result.import.rowsPerSecond} | ${result.import.ceilingRowsPerSecond} | ${Math.round((result.import.rowsPerSecond / result.import.ceilingRowsPerSecond) * 100)}% |`,
  );
  return out;
}
