// The export archive (docs/portability.md, "The format"): a gzipped tar with
// manifest.json and one newline-delimited JSON file per table, each row one line as
// PostgreSQL's row_to_json writes it. The manifest names the tenant, the schema version,
// and for every file its table, columns, row count and SHA-256; signature.json signs the
// manifest (signing.ts). Reading an archive verifies all of that before anything touches
// a database, and refuses any tar entry that is not one of those files.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { SIGNATURE_FILE, sign, verify, type SigningKeys } from './signing.ts';
import type { SchemaVersion } from './tables.ts';

export const FORMAT = 'tenantgraph-tenant-export';
export const FORMAT_VERSION = 1;

export interface ManifestTable {
  /** schema.table */
  table: string;
  /** Inside the archive: tables/<schema>.<table>.ndjson */
  file: string;
  /** `tenant`: the tenant's own row; `users`: the people its rows reference; `tenant-table`: rows with its tenant_id. */
  kind: 'tenant' | 'users' | 'tenant-table';
  /** `history`: restored with its own tenant, not copied into a new one. */
  tag?: 'history';
  columns: string[];
  rows: number;
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  formatVersion: number;
  tenant: { id: string; slug: string; name: string };
  schemaVersion: SchemaVersion;
  createdAt: string;
  /** In load order: the tenant, its users, then tenant tables parents first. */
  tables: ManifestTable[];
  /** Tenant tables left out on purpose (@tenantExport omit), by name. */
  omitted: string[];
}

export class ArchiveError extends Error {
  override name = 'ArchiveError';
  readonly code: 'ARCHIVE_INVALID' | 'ARCHIVE_TAMPERED' | 'ARCHIVE_UNTRUSTED';
  constructor(code: 'ARCHIVE_INVALID' | 'ARCHIVE_TAMPERED' | 'ARCHIVE_UNTRUSTED', message: string) {
    super(message);
    this.code = code;
  }
}

export function fileFor(table: string): string {
  return `tables/${table}.ndjson`;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 and newline count of a file, in one read. */
export async function digestOf(file: string): Promise<{ sha256: string; lines: number }> {
  const hash = createHash('sha256');
  let lines = 0;
  for await (const chunk of createReadStream(file)) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
  }
  return { sha256: hash.digest('hex'), lines };
}

// gzip through node:zlib's asynchronous stream, which deflates on libuv's thread pool
// while the main thread feeds it, rather than tar's own (synchronous, on the main
// thread): the same bytes, packing a 100 MB export in 0.4-1.8 s instead of 2.4-4.1 s and
// extracting it in 0.65-1.5 s instead of 2.9-3.8 s (docs/portability.md, "Throughput").
// Level 1: level 6 made that archive 4% smaller for 1.4-5.6 times the time.
const GZIP_LEVEL = 1;
// What tar's own gunzip refuses (its maxDecompressionRatio), kept now that zlib does it.
const MAX_DECOMPRESSION_RATIO = 1000;

function decompressionGuard(compressedBytes: number): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > MAX_DECOMPRESSION_RATIO * Math.max(compressedBytes, 1))
        done(new Error(`it inflates to more than ${MAX_DECOMPRESSION_RATIO} times its size`));
      else done(null, chunk);
    },
  });
}

/** Writes manifest.json into `folder` and, given a key, signature.json over its bytes. */
export async function writeManifest(folder: string, manifest: Manifest, signingKey?: Buffer): Promise<void> {
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(path.join(folder, 'manifest.json'), bytes);
  if (signingKey)
    await writeFile(path.join(folder, SIGNATURE_FILE), `${JSON.stringify(sign(bytes, signingKey))}\n`);
}

/** Packs a folder holding manifest.json (signature.json if `signed`) and its tables into `archive`. */
export async function pack(
  folder: string,
  manifest: Manifest,
  archive: string,
  signed = false,
): Promise<void> {
  await pipeline(
    tar.c({ cwd: folder, portable: true }, [
      'manifest.json',
      ...(signed ? [SIGNATURE_FILE] : []),
      ...manifest.tables.map((t) => t.file),
    ]),
    zlib.createGzip({ level: GZIP_LEVEL }),
    createWriteStream(archive),
  );
}

export interface OpenedArchive {
  manifest: Manifest;
  /** Signed by one of the keys given: the archive is as this server (or one sharing its key) wrote it. */
  trusted: boolean;
  /** Why not trusted, for the operator: unsigned, or signed by a key this server does not hold. */
  distrust?: string;
  /** Where the files were extracted; `close()` removes it. */
  folder: string;
  close(): Promise<void>;
}

const NAME = /^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/;

function validManifest(value: unknown): value is Manifest {
  const m = value as Manifest;
  return (
    !!m &&
    m.format === FORMAT &&
    typeof m.formatVersion === 'number' &&
    typeof m.tenant?.id === 'string' &&
    typeof m.tenant?.slug === 'string' &&
    typeof m.schemaVersion?.hash === 'string' &&
    typeof m.schemaVersion?.migration === 'string' &&
    Array.isArray(m.tables) &&
    m.tables.every(
      (t) =>
        NAME.test(t.table) &&
        t.file === fileFor(t.table) &&
        Array.isArray(t.columns) &&
        Number.isInteger(t.rows) &&
        /^[0-9a-f]{64}$/.test(t.sha256),
    )
  );
}

// The names an export writes; a `tables/` folder entry is what tar adds when a folder is packed.
const ENTRY = /^(manifest\.json|signature\.json|tables\/[a-z0-9_$.]+\.ndjson)$/;

/** Why a tar entry is not one of the archive's own files, or undefined when it is. */
function foreignEntry(name: string, type: string | undefined, seen: Set<string>): string | undefined {
  if (name === 'tables/' && type === 'Directory') return undefined;
  if (!ENTRY.test(name) || name.includes('..'))
    return `${JSON.stringify(name)} is not a file an export writes`;
  if (type !== 'File' && type !== 'OldFile')
    return `${name} is a ${type ?? 'special entry'}, not a plain file`;
  if (seen.has(name)) return `${name} appears twice`;
  seen.add(name);
  return undefined;
}

/**
 * Extracts and verifies an archive: only the files an export writes (any other tar entry
 * is refused, not skipped), a known format, every listed file present with its checksum
 * and row count, nothing else; and whether one of `keys` signed its manifest.
 */
export async function openArchive(
  archive: string,
  keys: Pick<SigningKeys, 'verifying'> = { verifying: [] },
): Promise<OpenedArchive> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-import-'));
  const close = () => rm(folder, { recursive: true, force: true });
  try {
    const refused: string[] = [];
    const seen = new Set<string>();
    try {
      await pipeline(
        createReadStream(archive),
        zlib.createGunzip(),
        decompressionGuard((await stat(archive)).size),
        tar.x({
          cwd: folder,
          strict: true,
          // The filter sees each entry's name as written in the tar, before tar's own
          // clean-up (which strips a leading / and skips .. with a mere warning).
          filter: (entry, info) => {
            const why = foreignEntry(entry, 'type' in info ? info.type : undefined, seen);
            if (why) refused.push(why);
            return !why;
          },
        }),
      );
    } catch (error) {
      throw new ArchiveError(
        'ARCHIVE_INVALID',
        `${archive} is not a tenant export (a .tar.gz): ${(error as Error).message}`,
      );
    }
    if (refused.length)
      throw new ArchiveError(
        'ARCHIVE_TAMPERED',
        `${archive} holds tar entries that are not an export's files: ${refused.join('; ')}. Nothing was imported.`,
      );
    let manifest: unknown;
    let manifestBytes: Buffer;
    try {
      manifestBytes = await readFile(path.join(folder, 'manifest.json'));
      manifest = JSON.parse(manifestBytes.toString('utf8'));
    } catch {
      throw new ArchiveError(
        'ARCHIVE_INVALID',
        `${archive} has no readable manifest.json: it is not a tenant export`,
      );
    }
    if (!validManifest(manifest))
      throw new ArchiveError('ARCHIVE_INVALID', `${archive}: manifest.json is not a ${FORMAT} manifest`);
    if (manifest.formatVersion > FORMAT_VERSION) {
      throw new ArchiveError(
        'ARCHIVE_INVALID',
        `${archive} is format version ${manifest.formatVersion}; this tenantgraph reads up to ${FORMAT_VERSION}: upgrade it first`,
      );
    }
    const listed = new Set(manifest.tables.map((t) => t.file));
    const present = (await readdir(path.join(folder, 'tables')).catch(() => [])).map(
      (name) => `tables/${name}`,
    );
    const extra = present.filter((file) => !listed.has(file));
    if (extra.length)
      throw new ArchiveError(
        'ARCHIVE_TAMPERED',
        `${archive} holds files its manifest does not list: ${extra.join(', ')}`,
      );
    for (const table of manifest.tables) {
      const file = path.join(folder, table.file);
      if (!(await stat(file).catch(() => null)))
        throw new ArchiveError(
          'ARCHIVE_TAMPERED',
          `${archive} lacks ${table.file}, which its manifest lists`,
        );
      const { sha256: actual, lines } = await digestOf(file);
      if (actual !== table.sha256) {
        throw new ArchiveError(
          'ARCHIVE_TAMPERED',
          `${table.file} does not match its checksum in the manifest (sha256 ${actual}, expected ${table.sha256}): the archive was changed or damaged; nothing was imported`,
        );
      }
      if (lines !== table.rows)
        throw new ArchiveError(
          'ARCHIVE_TAMPERED',
          `${table.file} has ${lines} rows, its manifest says ${table.rows}`,
        );
    }
    const signature: unknown = await readFile(path.join(folder, SIGNATURE_FILE), 'utf8')
      .then((text) => JSON.parse(text) as unknown)
      .catch(() => null);
    const trusted = !!verify(manifestBytes, signature, keys.verifying);
    const distrust = trusted
      ? undefined
      : signature
        ? `its signature (key ${String((signature as { keyId?: unknown }).keyId)}) does not verify with this server's EXPORT_SIGNING_KEY or EXPORT_VERIFY_KEYS: it was edited, or written by another server`
        : 'it is not signed';
    return { manifest, trusted, ...(distrust && { distrust }), folder, close };
  } catch (error) {
    await close();
    throw error;
  }
}
