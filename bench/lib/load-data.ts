// Loads the benchmark data set: tenants, each with an owner and a member, categories
// and products, by COPY, one transaction per batch of tenants. Runs as the owner role,
// which bypasses RLS, exactly like a migration or an import job would.
//
// Besides the app_public tables it fills bench.tenant_index, one row per tenant
// numbered 1..N with a member, a product and a category of that tenant: the harness
// and pgbench pick tenants at random from it.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export interface DataShape {
  tenants: number;
  productsPerTenant: number;
  categoriesPerTenant: number;
}

export interface LoadProgress {
  start(totalTenants: number): void;
  update(tenantsDone: number, rowsDone: number): void;
  stop(): void;
}

export interface LoadReport {
  shape: DataShape;
  rows: Record<string, number>;
  loadSeconds: number;
  vacuumSeconds: number;
}

const CATEGORY_NAMES = [
  'Anvils',
  'Rockets',
  'Magnets',
  'Springs',
  'Gadgets',
  'Snacks',
  'Tools',
  'Paint',
  'Rope',
  'Lamps',
  'Boots',
  'Kites',
];
const ADJECTIVES = [
  'red',
  'steel',
  'giant',
  'portable',
  'silent',
  'golden',
  'rapid',
  'tiny',
  'classic',
  'smart',
];
const NOUNS = [
  'anvil',
  'rocket',
  'magnet',
  'spring',
  'slingshot',
  'skates',
  'hammock',
  'lamp',
  'kite',
  'rope',
];
/** Words that occur in product names, for the filter scenario. */
export const NAME_WORDS = ADJECTIVES;

// A small seeded generator: the same shape gives the same names and prices every time.
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Batch {
  tenants: string[];
  users: string[];
  memberships: string[];
  categories: string[];
  products: string[];
  index: string[];
}

function buildBatch(
  first: number,
  count: number,
  shape: DataShape,
  random: () => number,
  epoch: number,
): Batch {
  const batch: Batch = { tenants: [], users: [], memberships: [], categories: [], products: [], index: [] };
  for (let n = first; n < first + count; n += 1) {
    const tenantId = randomUUID();
    const ownerId = randomUUID();
    const memberId = randomUUID();
    const created = new Date(epoch - 400 * 86_400_000 + n * 1000).toISOString();
    batch.tenants.push(`${tenantId}\tbench-${n}\tBench tenant ${n}\t${created}\n`);
    batch.users.push(
      `${ownerId}\towner${n}@bench.test\tOwner ${n}\n`,
      `${memberId}\tmember${n}@bench.test\tMember ${n}\n`,
    );
    batch.memberships.push(`${tenantId}\t${ownerId}\towner\n`, `${tenantId}\t${memberId}\tmember\n`);
    const categoryIds: string[] = [];
    for (let c = 0; c < shape.categoriesPerTenant; c += 1) {
      const categoryId = randomUUID();
      categoryIds.push(categoryId);
      const name = c < CATEGORY_NAMES.length ? CATEGORY_NAMES[c] : `Category ${c + 1}`;
      batch.categories.push(`${tenantId}\t${categoryId}\t${name}\n`);
    }
    let firstProduct = '';
    for (let p = 0; p < shape.productsPerTenant; p += 1) {
      const productId = randomUUID();
      firstProduct ||= productId;
      // One product in ten has no category, as real catalogues have strays.
      const category =
        categoryIds.length > 0 && random() >= 0.1
          ? categoryIds[Math.floor(random() * categoryIds.length)]
          : '\\N';
      const name = `${ADJECTIVES[Math.floor(random() * ADJECTIVES.length)]} ${NOUNS[Math.floor(random() * NOUNS.length)]} ${p + 1}`;
      const price = (0.5 + random() * 999.5).toFixed(2);
      const createdAt = new Date(epoch - Math.floor(random() * 365 * 86_400_000)).toISOString();
      batch.products.push(
        `${tenantId}\t${productId}\t${category}\t${name}\t${price}\t${createdAt}\t${createdAt}\n`,
      );
    }
    batch.index.push(
      `${n}\t${tenantId}\t${memberId}\t${firstProduct || '\\N'}\t${categoryIds[0] ?? '\\N'}\n`,
    );
  }
  return batch;
}

async function copyRows(client: pg.ClientBase, statement: string, rows: string[]): Promise<void> {
  if (rows.length === 0) return;
  // Chunks of ~1,000 lines keep each write large without building one huge string.
  async function* chunks() {
    for (let i = 0; i < rows.length; i += 1000) yield rows.slice(i, i + 1000).join('');
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(statement)));
}

const AUDITED_TABLES = ['tenants', 'memberships', 'categories', 'products'];

const BENCH_SCHEMA = `
  create schema if not exists bench;
  comment on schema bench is 'Benchmark bookkeeping; exists only in benchmark databases.';
  create table if not exists bench.tenant_index (
    n int primary key,
    tenant_id uuid not null,
    user_id uuid not null,
    product_id uuid,
    category_id uuid
  );
  create table if not exists bench.shape (
    tenants int not null,
    products_per_tenant int not null,
    categories_per_tenant int not null,
    loaded_at timestamptz not null default now(),
    load_seconds numeric not null
  );
`;

async function loadBatch(client: pg.ClientBase, batch: Batch): Promise<void> {
  await client.query('begin');
  try {
    await copyRows(client, 'copy app_public.tenants (id, slug, name, created_at) from stdin', batch.tenants);
    await copyRows(client, 'copy app_public.users (id, email, display_name) from stdin', batch.users);
    await copyRows(
      client,
      'copy app_public.memberships (tenant_id, user_id, role) from stdin',
      batch.memberships,
    );
    await copyRows(client, 'copy app_public.categories (tenant_id, id, name) from stdin', batch.categories);
    await copyRows(
      client,
      'copy app_public.products (tenant_id, id, category_id, name, price, created_at, updated_at) from stdin',
      batch.products,
    );
    await copyRows(
      client,
      'copy bench.tenant_index (n, tenant_id, user_id, product_id, category_id) from stdin',
      batch.index,
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * Loads `shape` into a freshly migrated database. `jobs` connections load batches of
 * tenants side by side (PostgreSQL's foreign key and index work is the bottleneck, so
 * one per core); each batch is one transaction.
 */
export async function loadBenchData(
  ownerUrl: string,
  authenticator: string,
  shape: DataShape,
  progress?: LoadProgress,
  jobs = 2,
): Promise<LoadReport> {
  const rows = { tenants: 0, users: 0, memberships: 0, categories: 0, products: 0 };
  const started = performance.now();
  const setup = await connect(ownerUrl);
  try {
    await setup.query(BENCH_SCHEMA);
    // pgbench logs in as the authenticator and reads the index before switching role.
    await setup.query(`grant usage on schema bench to ${setup.escapeIdentifier(authenticator)}`);
    await setup.query(`grant select on bench.tenant_index to ${setup.escapeIdentifier(authenticator)}`);

    // Secondary indexes are built once at the end rather than row by row: much less
    // WAL and random I/O. Keys and constraints stay, so the load is checked as usual.
    const { rows: deferred } = await setup.query<{ name: string; definition: string }>(
      `select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
       from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'app_public' and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)`,
    );
    for (const index of deferred)
      await setup.query(`drop index app_public.${setup.escapeIdentifier(index.name)}`);
    // Generated data is nobody's change: the audit trail stays off while it loads (an
    // event per row made the load 5-10x slower) and is on again for the measured requests.
    for (const table of AUDITED_TABLES)
      await setup.query(`alter table app_public.${table} disable trigger _900_audit`);

    const epoch = Date.now();
    const perBatch = Math.max(1, Math.floor(25_000 / Math.max(1, shape.productsPerTenant)));
    progress?.start(shape.tenants);
    let next = 0;
    let done = 0;
    const worker = async () => {
      const client = await connect(ownerUrl);

      try {
        while (next < shape.tenants) {
          const first = next;
          const count = Math.min(perBatch, shape.tenants - first);
          next += count;
          // Seeded per batch: the same shape gives the same names and prices, whatever the interleaving.
          const batch = buildBatch(
            first + 1,
            count,
            shape,
            seededRandom(first * 7919 + shape.productsPerTenant),
            epoch,
          );
          await loadBatch(client, batch);
          done += count;
          rows.tenants += batch.tenants.length;
          rows.users += batch.users.length;
          rows.memberships += batch.memberships.length;
          rows.categories += batch.categories.length;
          rows.products += batch.products.length;
          progress?.update(
            done,
            Object.values(rows).reduce((a, b) => a + b, 0),
          );
        }
      } finally {
        await client.end();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
    progress?.stop();
    await setup.query("set maintenance_work_mem = '256MB'");
    for (const index of deferred) await setup.query(index.definition);
    for (const table of AUDITED_TABLES)
      await setup.query(`alter table app_public.${table} enable trigger _900_audit`);
    const loadSeconds = (performance.now() - started) / 1000;

    // Fresh statistics and a set visibility map, as a database in service would have.
    const vacuumStarted = performance.now();
    for (const table of ['tenants', 'users', 'memberships', 'categories', 'products']) {
      await setup.query(`vacuum (analyze) app_public.${table}`);
    }
    await setup.query('vacuum (analyze) bench.tenant_index');
    const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;
    await setup.query(
      'insert into bench.shape (tenants, products_per_tenant, categories_per_tenant, load_seconds) values ($1, $2, $3, $4)',
      [shape.tenants, shape.productsPerTenant, shape.categoriesPerTenant, loadSeconds.toFixed(2)],
    );
    return { shape, rows, loadSeconds, vacuumSeconds };
  } finally {
    await setup.end();
  }
}

export interface LoadedShape extends DataShape {
  loadSeconds: number;
  loadedAt: string;
}

/** What `bench:data` loaded into this database, or undefined when it holds no bench data. */
export async function loadedShape(ownerUrl: string): Promise<LoadedShape | undefined> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      tenants: number;
      products_per_tenant: number;
      categories_per_tenant: number;
      load_seconds: string;
      loaded_at: Date;
    }>(`select * from bench.shape order by loaded_at desc limit 1`);
    const row = rows[0];
    return (
      row && {
        tenants: row.tenants,
        productsPerTenant: row.products_per_tenant,
        categoriesPerTenant: row.categories_per_tenant,
        loadSeconds: Number(row.load_seconds),
        loadedAt: row.loaded_at.toISOString(),
      }
    );
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return undefined;
    throw error;
  } finally {
    await client.end();
  }
}
