// DBAs evolve the API while it serves. Proves that a graphile-migrate migration applied
// under load from several tenants gets its locks within a short lock_timeout (no request
// keeps a transaction open while idle), that the API answers every request throughout
// without a single error, and that watch mode then serves the new column, readable and
// writable, without a restart. Also that a mutation is acknowledged only if it
// committed, and committed only if it was acknowledged.
//
// Runs on a database of its own in the shared test server, created and dropped here.
import { randomBytes, randomUUID } from 'node:crypto';
import { run } from 'graphile-migrate';
import { clearAllPools } from 'graphile-migrate/dist/pg.js';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { readEnv } from '../src/config.ts';
import { dropDatabase, loginRoleOf } from '../src/database/bootstrap.ts';
import { withLogin, type DatabaseLocation } from '../src/database/location.ts';
import { migrationSettings, prepareDatabase } from '../src/database/migrations.ts';
import { serverOptionsFromEnv } from '../src/server-options.ts';
import { startApiServer, type ApiServer } from '../src/server.ts';
import { TEST_SECRET, tokenFor } from './support/api.ts';

const shared = inject('database');
const env = readEnv({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, TRUSTED_DOCUMENTS: 'off' });
const CLIENT_TIMEOUT_MS = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const databaseName = `tenantgraph_live_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const ownerUrl = withLogin(shared.rootUrl, loginRoleOf(shared.ownerUrl), databaseName);
const authenticatorUrl = withLogin(shared.rootUrl, loginRoleOf(shared.authenticatorUrl), databaseName);
const superuserUrl = Object.assign(new URL(shared.rootUrl), { pathname: `/${databaseName}` }).toString();
const location: DatabaseLocation = {
  ownerUrl,
  authenticatorUrl,
  shadowUrl: undefined,
  rootUrl: shared.rootUrl,
  roles: { owner: loginRoleOf(ownerUrl), authenticator: loginRoleOf(authenticatorUrl), visitor: shared.visitor, anonymous: shared.anonymous },
  embedded: false,
  stop: async () => {},
};

let owner: pg.Pool;
let api: ApiServer;

interface Member {
  tenantId: string;
  categoryId: string;
  tokens: { member: string; admin: string; viewer: string };
}

/** A tenant with a member, an admin, a viewer and one category, written as the owner. */
async function createTenant(label: string): Promise<Member> {
  const tenantId = randomUUID();
  const categoryId = randomUUID();
  const tokens = {} as Member['tokens'];
  await owner.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3)', [tenantId, `${label}-${tenantId.slice(0, 8)}`, label]);
  for (const role of ['member', 'admin', 'viewer'] as const) {
    const userId = randomUUID();
    await owner.query('insert into app_public.users (id, email) values ($1, $2)', [userId, `${role}-${userId}@example.test`]);
    await owner.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [tenantId, userId, role]);
    tokens[role] = tokenFor({ userId, tenantId }, { expiresIn: '10m' });
  }
  await owner.query('insert into app_public.categories (tenant_id, id, name) values ($1, $2, $3)', [tenantId, categoryId, 'Tools']);
  return { tenantId, categoryId, tokens };
}

interface Answer {
  status: number;
  data?: any;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
  ms: number;
}

async function graphql(token: string, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const began = performance.now();
  try {
    const response = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const body = (await response.json()) as Omit<Answer, 'status' | 'ms'>;
    return { status: response.status, ...body, ms: performance.now() - began };
  } catch (error) {
    return { status: 0, errors: [{ message: String(error) }], ms: performance.now() - began };
  }
}

const failed = (answer: Answer) => answer.status !== 200 || (answer.errors?.length ?? 0) > 0;
const describeAnswer = (what: string, answer: Answer) => `${what}: HTTP ${answer.status} ${JSON.stringify(answer.errors ?? [])}`;

const CREATE = /* GraphQL */ `mutation ($name: String!, $price: BigFloat!, $categoryId: UUID) {
  createProduct(input: { name: $name, price: $price, categoryId: $categoryId }) { product { id name } }
}`;
const LIST = /* GraphQL */ `{ products(first: 20, orderBy: CREATED_AT_DESC) { totalCount nodes { id name price category { name } } } }`;

async function countByName(names: string[]): Promise<Map<string, number>> {
  const { rows } = await owner.query<{ name: string; count: number }>(
    'select name, count(*)::int as count from app_public.products where name = any($1) group by name',
    [names],
  );
  return new Map(rows.map((row) => [row.name, row.count]));
}

beforeAll(async () => {
  await prepareDatabase(location, () => {});
  owner = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  api = await startApiServer({
    ...serverOptionsFromEnv(env),
    port: 0,
    roles: { visitor: shared.visitor, anonymous: shared.anonymous },
    authenticatorUrl,
    verifyToken: createTokenVerifier({ key: { kind: 'secret', secret: TEST_SECRET }, clockToleranceSeconds: 0 }),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    // PostGraphile installs its event trigger as the superuser and rebuilds on DDL.
    watch: { superuserUrl },
  });
});

afterAll(async () => {
  await api?.close();
  await owner?.end();
  await dropDatabase(shared.rootUrl, databaseName);
});

describe('a migration applied while the API serves', () => {
  test('takes its locks within lock_timeout, costs no request an error, and the new column is served', { timeout: 60_000 }, async () => {
    const tenants = await Promise.all([createTenant('live-a'), createTenant('live-b')]);
    const writers = tenants.flatMap((tenant) => [tenant.tokens.member, tenant.tokens.admin]);
    const problems: string[] = [];
    const counts = { requests: 0, created: 0, slowestMs: 0 };
    const createdBy = writers.map(() => 0);
    let running = true;

    const loop = async (token: string, index: number) => {
      for (let seq = 0; running; seq += 1) {
        const listed = await graphql(token, LIST);
        const name = `live-${index}-${seq}-${randomUUID().slice(0, 8)}`;
        const created = await graphql(token, CREATE, { name, price: `${(seq % 50) + 1}.50` });
        counts.requests += 2;
        counts.slowestMs = Math.max(counts.slowestMs, listed.ms, created.ms);
        if (failed(listed)) problems.push(describeAnswer('list', listed));
        if (failed(created) || created.data?.createProduct?.product?.name !== name) problems.push(describeAnswer('create', created));
        else {
          counts.created += 1;
          createdBy[index] = (createdBy[index] ?? 0) + 1;
        }
      }
    };

    // What a DBA runs: a graphile-migrate file, with the role as a placeholder. The
    // short lock_timeout makes the ALTER give up rather than queue behind (and stall)
    // the API if a request held its transaction open.
    const migration = `
      set lock_timeout = '2s';
      alter table app_public.products add column sku text;
      comment on column app_public.products.sku is 'Stock keeping unit.';
      grant update (sku) on app_public.products to :DATABASE_VISITOR;
    `;
    const settings = await migrationSettings(location);

    const scenario = async () => {
      // Every loop under way, however busy the machine, before the DBA steps in.
      for (const began = performance.now(); createdBy.some((n) => n < 5) && performance.now() - began < 20_000; ) await sleep(50);
      await sleep(500);
      const requestsBefore = counts.requests;

      const migrationBegan = performance.now();
      try {
        await run(settings, migration, 'add-product-sku.sql');
      } finally {
        clearAllPools();
      }
      const migrationMs = performance.now() - migrationBegan;

      // Watch mode notices the DDL and rebuilds; poll with the new field until it is there.
      let withSku: Answer;
      do {
        withSku = await graphql(tenants[0]!.tokens.member, '{ products(first: 1) { nodes { id name sku } } }');
        if (!failed(withSku)) break;
        await sleep(100);
      } while (performance.now() - migrationBegan < 10_000);
      const servedMs = performance.now() - migrationBegan;
      await sleep(1_000);
      return { migrationMs, servedMs, withSku, requestsAfter: counts.requests - requestsBefore };
    };

    const loops = writers.map((token, index) => loop(token, index));
    let outcome: Awaited<ReturnType<typeof scenario>>;
    try {
      outcome = await scenario();
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const { migrationMs, servedMs, withSku, requestsAfter } = outcome;

    console.info(
      `live migration: ${counts.requests} requests (${counts.created} products created) from ${writers.length} loops, ` +
        `${requestsAfter} of them from the migration on; ${problems.length} failed, slowest ${Math.round(counts.slowestMs)} ms; ` +
        `migration took ${Math.round(migrationMs)} ms; sku served ${Math.round(servedMs)} ms after the migration began`,
    );
    expect(Math.min(...createdBy)).toBeGreaterThanOrEqual(5);
    expect(requestsAfter).toBeGreaterThan(0);
    expect(migrationMs).toBeLessThan(2_000);
    expect(problems).toEqual([]);
    expect(failed(withSku) ? describeAnswer('select sku', withSku) : 'served').toBe('served');

    const product = withSku.data.products.nodes[0];
    const updated = await graphql(
      tenants[0]!.tokens.member,
      'mutation ($id: ID!) { updateProductById(input: { id: $id, patch: { sku: "X-1" } }) { product { name sku } } }',
      { id: product.id },
    );
    expect(failed(updated) ? describeAnswer('update sku', updated) : updated.data.updateProductById.product).toEqual({ name: product.name, sku: 'X-1' });
    const { rows } = await owner.query('select sku from app_public.products where tenant_id = $1 and name = $2', [tenants[0]!.tenantId, product.name]);
    expect(rows).toEqual([{ sku: 'X-1' }]);
  });
});

describe('acknowledged if and only if committed', () => {
  test('refused mutations leave no row behind, and every acknowledged one is there', async () => {
    const [mine, theirs] = await Promise.all([createTenant('ack-a'), createTenant('ack-b')]);
    const tag = randomUUID().slice(0, 8);
    const refusals = [
      { why: 'a negative price', token: mine!.tokens.member, name: `negative-${tag}`, price: '-1', code: 'INVALID_VALUE' },
      { why: "another tenant's category", token: mine!.tokens.member, name: `foreign-category-${tag}`, categoryId: theirs!.categoryId, code: 'INVALID_REFERENCE' },
      { why: 'a name over 200 characters', token: mine!.tokens.member, name: `long-${tag}-${'x'.repeat(200)}`, code: 'INVALID_VALUE' },
      { why: 'a viewer creating', token: mine!.tokens.viewer, name: `by-viewer-${tag}`, code: 'FORBIDDEN' },
    ];
    const accepted = [
      { token: mine!.tokens.member, name: `accepted-member-${tag}`, categoryId: mine!.categoryId },
      { token: mine!.tokens.admin, name: `accepted-admin-${tag}` },
      { token: theirs!.tokens.member, name: `accepted-other-tenant-${tag}`, categoryId: theirs!.categoryId },
    ];

    const refusedAnswers = await Promise.all(
      refusals.map(({ token, name, price = '1.00', categoryId }) => graphql(token, CREATE, { name, price, categoryId })),
    );
    const acceptedAnswers = await Promise.all(accepted.map(({ token, name, categoryId }) => graphql(token, CREATE, { name, price: '3.00', categoryId })));

    expect(
      refusals.map((refusal, i) => ({
        why: refusal.why,
        product: refusedAnswers[i]!.data?.createProduct?.product ?? null,
        codes: (refusedAnswers[i]!.errors ?? []).map((error) => error.extensions?.code),
      })),
    ).toEqual(refusals.map(({ why, code }) => ({ why, product: null, codes: [code] })));
    expect(acceptedAnswers.map((answer) => (failed(answer) ? describeAnswer('create', answer) : answer.data.createProduct.product.name))).toEqual(
      accepted.map(({ name }) => name),
    );

    const written = await countByName([...refusals, ...accepted].map(({ name }) => name));
    expect(Object.fromEntries(refusals.map(({ name, why }) => [why, written.get(name) ?? 0]))).toEqual(
      Object.fromEntries(refusals.map(({ why }) => [why, 0])),
    );
    expect(accepted.map(({ name }) => written.get(name) ?? 0)).toEqual(accepted.map(() => 1));
  });
});
