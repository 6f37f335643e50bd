// Proof of an off-boarding: every table of the given schemas (app_public, app_private)
// and graphile-worker's job queue, scanned, every column that can hold an id (uuid,
// text, json, arrays), for the tenant's id and the removed people's ids. The people's
// ids are known by their SHA-256 from the erasure record (or given as --user), so the
// check needs no list of personal data kept anywhere.
//
// What the off-boarding keeps on purpose (the tenant's pseudonymised audit events and
// the erasure record, until retained_until) is reported apart, as retained; everything
// else must be zero. `strict` (after the retention has ended) counts those too.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { AUDIT_TABLE, DEFAULT_SCHEMAS, ident, qualified } from './tables.ts';

export interface TableScan {
  table: string;
  /** Rows naming the tenant or a removed person. */
  rows: number;
  /** Kept on purpose until `retainedUntil` (counted as found when strict). */
  retained: boolean;
}

export interface ErasureVerdict {
  tenantId: string;
  erasedAt: Date | null;
  retainedUntil: Date | null;
  /** How many removed people were looked for. */
  users: number;
  tables: TableScan[];
  /** Rows that should not be there: zero when the erasure is complete. */
  found: number;
  /** Rows kept on purpose (zero after the retention has ended). */
  retained: number;
}

const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const TEXTUAL = new Set(['text', 'citext', 'character varying', 'character', 'json', 'jsonb']);

export const hashOf = (id: string) => createHash('sha256').update(id.toLowerCase()).digest();

interface ColumnRow {
  schema: string;
  table: string;
  column: string;
  type: string;
  array: boolean;
}

export async function verifyErased(
  client: pg.ClientBase,
  tenantId: string,
  options: { userIds?: string[]; schemas?: string[]; strict?: boolean } = {},
): Promise<ErasureVerdict> {
  const {
    rows: [receipt],
  } = await client.query<{
    erased_at: Date | null;
    retained_until: Date | null;
    user_id_hashes: Buffer[] | null;
  }>(
    'select erased_at, retained_until, user_id_hashes from app_private.tenant_erasures where erased_tenant_id = $1',
    [tenantId],
  );
  const hashes = [...(receipt?.user_id_hashes ?? []), ...(options.userIds ?? []).map(hashOf)];
  const { rows: columns } = await client.query<ColumnRow>(
    `select n.nspname as schema, c.relname as table, a.attname as column,
            format_type(coalesce(nullif(t.typelem, 0), a.atttypid), null) as type, t.typelem <> 0 and t.typlen = -1 as array
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace join pg_type t on t.oid = a.atttypid
     where n.nspname = any($1::text[]) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
     order by 1, 2, a.attnum`,
    [options.schemas ?? DEFAULT_SCHEMAS],
  );
  const byTable = new Map<string, ColumnRow[]>();
  for (const column of columns) {
    const key = `${column.schema}.${column.table}`;
    if (column.type === 'uuid' || TEXTUAL.has(column.type))
      byTable.set(key, [...(byTable.get(key) ?? []), column]);
  }

  const tables: TableScan[] = [];
  for (const [name, cols] of byTable) {
    const conditions = cols.map((c) => {
      const value = `r.${ident(c.column)}`;
      if (c.type === 'uuid' && !c.array) {
        return `${value} = $1::uuid${hashes.length ? ` or sha256(convert_to(${value}::text, 'UTF8')) = any($2::bytea[])` : ''}`;
      }
      return `strpos(${value}::text, $1::text) > 0${hashes.length ? ` or exists (select 1 from regexp_matches(${value}::text, '${UUID_PATTERN}', 'g') m where sha256(convert_to(m[1], 'UTF8')) = any($2::bytea[]))` : ''}`;
    });
    const [schema, table] = name.split('.') as [string, string];
    const {
      rows: [count],
    } = await client.query<{ n: string }>(
      `select count(*) as n from ${qualified({ schema, table })} r where ${conditions.map((c) => `(${c})`).join(' or ')}`,
      hashes.length ? [tenantId, hashes] : [tenantId],
    );
    const rows = Number(count!.n);
    if (rows === 0) continue;
    // Kept on purpose: the erasure's own record, and the tenant's pseudonymised trail until its retention ends.
    const retained =
      !options.strict &&
      receipt?.erased_at != null &&
      receipt.retained_until! > new Date() &&
      (name === AUDIT_TABLE || name === 'app_private.tenant_erasures');
    tables.push({ table: name, rows, retained });
  }
  const {
    rows: [jobs],
  } = await client.query<{ n: string }>(
    `select count(*) as n from graphile_worker._private_jobs where strpos(payload::text, $1::text) > 0`,
    [tenantId],
  );
  if (Number(jobs!.n) > 0)
    tables.push({ table: 'graphile_worker._private_jobs', rows: Number(jobs!.n), retained: false });

  const found = tables.filter((t) => !t.retained).reduce((sum, t) => sum + t.rows, 0);
  const retained = tables.filter((t) => t.retained).reduce((sum, t) => sum + t.rows, 0);
  return {
    tenantId,
    erasedAt: receipt?.erased_at ?? null,
    retainedUntil: receipt?.retained_until ?? null,
    users: hashes.length,
    tables,
    found,
    retained,
  };
}
