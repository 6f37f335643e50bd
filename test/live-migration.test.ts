// DBAs evolve the API while it serves. Proves that a graphile-migrate migration applied
// under load from several tenants gets its locks within a short lock_timeout (no request
// keeps a transaction open while idle), that the API answers every request throughout
// without a single error, and that watch mode then serves the new column, readable and
// writable, without a restart. Also that a mutation is acknowledged only if it
// committed, and committed only if it was acknowledged.
//
// Runs on a database of its own in the shared test server, created and dropped here.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { presetFromEnv, readEnv } from '../src/config.ts';
import { dropDatabase, loginRoleOf } from '../src/database/bootstrap.ts';
import { graphileMigrate } from '../src/database/graphile-migrate.ts';
import { databaseOn, onDatabase } from '../src/database/location.ts';
import { migrationSettings, prepareDatabase } from '../src/database/migrations.ts';
import { startApiServer, type ApiServer } from '../src/server.ts';
import { TEST_SECRET, tokenFor } from './support/api.ts';

const shared = inject('database');
// No cost budgets: the loops below send as fast as the API answers, and what this file
// measures is the migration's locks, not a tenant's budget (budgets.test.ts does that).
const env = readEnv({
  NODE_ENV: 'production',
  JWT_SECRET: TEST_SECRET,
  TRUSTED_DOCUMENTS: 'off',
  BUDGET_POINTS: '0',
});
// A request is late only once the server's own deadline (REQUEST_TIMEOUT_MS) has passed:
// on a busy machine a slow answer is load, not an error of the migration.
const CLIENT_TIMEOUT_MS = env.REQUEST_TIMEOUT_MS + 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const databaseName = `tenantgraph_live_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
// The run's roles, on a database of this file's own.
const logins = { owner: loginRoleOf(shared.ownerUrl), authenticator: loginRoleOf(shared.authenticatorUrl) };
const location = databaseOn({ rootUrl: shared.rootUrl, embedded: false }, databaseName, logins, env);
const { ownerUrl, authenticatorUrl } = location;
const superuserUrl = onDatabase(shared.rootUrl, databaseName);

let owner: pg.Pool;
let api: ApiServer;
// The server's log, to wait for watch mode's verdict on each rebuild.
const logLines: string[] = [];
const logger = pino(
  { level: 'info' },
  { write: (line: string) => void logLines.push(JSON.parse(line).msg ?? '') },
);

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
  await owner.query('insert into app_public.tenants (id, slug, name) values ($1, $2, $3)', [
    tenantId,
    `${label}-${tenantId.slice(0, 8)}`,
    label,
  ]);
  for (const role of ['member', 'admin', 'viewer'] as const) {
    const userId = randomUUID();
    await owner.query('insert into app_public.users (id, email) values ($1, $2)', [
      userId,
      `${role}-${userId}@example.test`,
    ]);
    await owner.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [
      tenantId,
      userId,
      role,
    ]);
    tokens[role] = tokenFor({ userId, tenantId }, { expiresIn: '10m' });
  }
  await owner.query('insert into app_public.categories (tenant_id, id, name) values ($1, $2, $3)', [
    tenantId,
    categoryId,
    'Tools',
  ]);
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
const describeAnswer = (what: string, answer: Answer) =>
  `${what}: HTTP ${answer.status} ${JSON.stringify(answer.errors ?? [])}`;

const CREATE = /* GraphQL */ `
  mutation ($name: String!, $price: BigFloat!, $categoryId: UUID) {
    createProduct(input: { name: $name, price: $price, categoryId: $categoryId }) {
      product {
        id
        name
      }
    }
  }
`;
const LIST = /* GraphQL */ `
  {
    products(first: 20, orderBy: CREATED_AT_DESC) {
      totalCount
      nodes {
        id
        name
        price
        category {
          name
        }
      }
    }
  }
`;

async function countByName(names: string[]): Promise<Map<string, number>> {
  const { rows } = await owner.query<{ name: string; count: number }>(
    'select name, count(*)::int as count from app_public.products where name = any($1) group by name',
    [names],
  );
  return new Map(rows.map((row) => [row.name, row.count]));
}

// How long this machine takes to build the schema, measured at start-up: watch mode's
// rebuild after the migration is the same work, so its wait is a multiple of this.
let schemaBuildMs = 0;
const rebuildWaitMs = () => Math.max(15_000, 10 * schemaBuildMs);
// The watch-mode tests wait for rebuilds (each bounded by rebuildWaitMs); their own limit is
// a ceiling for a loaded machine, not a measure of speed.
const WATCH_TEST = { timeout: 180_000 };

beforeAll(async () => {
  await prepareDatabase(location, () => {});
  owner = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  // dropDatabase terminates what is still connected at the end; an idle client's
  // "terminating connection" must not surface as an uncaught error of the run.
  owner.on('error', () => {});
  const began = performance.now();
  api = await startApiServer({
    preset: {
      extends: [presetFromEnv(env)],
      grafserv: { port: 0 },
      tenantgraph: { roles: { visitor: shared.visitor, anonymous: shared.anonymous } },
    },
    authenticatorUrl,
    verifyToken: createTokenVerifier({
      key: { kind: 'secret', secret: TEST_SECRET },
      clockToleranceSeconds: 0,
    }),
    logger,
    // PostGraphile installs its event trigger as the superuser and rebuilds on DDL.
    watch: { superuserUrl },
  });
  schemaBuildMs = performance.now() - began;
});

afterAll(async () => {
  await api?.close();
  await owner?.end();
  await dropDatabase(shared.rootUrl, databaseName);
});

describe('a migration applied while the API serves', () => {
  test(
    'takes its locks within lock_timeout, costs no request an error, and the new column is served',
    // Bounded by the waits inside, which follow what this machine measured.
    { timeout: 180_000 },
    async () => {
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
          if (failed(created) || created.data?.createProduct?.product?.name !== name)
            problems.push(describeAnswer('create', created));
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
      alter table app_public.products add column live_migration_note text;
      comment on column app_public.products.live_migration_note is 'A note added by test/live-migration.test.ts.';
      grant update (live_migration_note) on app_public.products to :DATABASE_VISITOR;
    `;
      const settings = await migrationSettings(location);

      const scenario = async () => {
        // Every loop under way, however busy the machine, before the DBA steps in.
        for (
          const began = performance.now();
          createdBy.some((n) => n < 5) && performance.now() - began < 20_000;
        )
          await sleep(50);
        await sleep(500);
        const requestsBefore = counts.requests;

        const migrationBegan = performance.now();
        await graphileMigrate(
          { command: 'run', sql: migration, filename: 'add-live-migration-note.sql' },
          settings,
        );
        const migrationMs = performance.now() - migrationBegan;

        // Watch mode notices the DDL and rebuilds; poll with the new field until it is there.
        let withNote: Answer;
        do {
          withNote = await graphql(
            tenants[0]!.tokens.member,
            '{ products(first: 1) { nodes { id name liveMigrationNote } } }',
          );
          if (!failed(withNote)) break;
          await sleep(100);
        } while (performance.now() - migrationBegan < rebuildWaitMs());
        const servedMs = performance.now() - migrationBegan;
        await sleep(1_000);
        return { migrationMs, servedMs, withNote, requestsAfter: counts.requests - requestsBefore };
      };

      const loops = writers.map((token, index) => loop(token, index));
      let outcome: Awaited<ReturnType<typeof scenario>>;
      try {
        outcome = await scenario();
      } finally {
        running = false;
        await Promise.all(loops);
      }
      const { migrationMs, servedMs, withNote, requestsAfter } = outcome;

      console.info(
        `live migration: ${counts.requests} requests (${counts.created} products created) from ${writers.length} loops, ` +
          `${requestsAfter} of them from the migration on; ${problems.length} failed, slowest ${Math.round(counts.slowestMs)} ms; ` +
          `migration took ${Math.round(migrationMs)} ms; the new column served ${Math.round(servedMs)} ms after the migration began`,
      );
      expect(Math.min(...createdBy)).toBeGreaterThanOrEqual(5);
      expect(requestsAfter).toBeGreaterThan(0);
      expect(migrationMs).toBeLessThan(2_000);
      expect(problems).toEqual([]);
      expect(failed(withNote) ? describeAnswer('select liveMigrationNote', withNote) : 'served').toBe(
        'served',
      );

      const product = withNote.data.products.nodes[0];
      const updated = await graphql(
        tenants[0]!.tokens.member,
        'mutation ($id: ID!) { updateProductById(input: { id: $id, patch: { liveMigrationNote: "X-1" } }) { product { name liveMigrationNote } } }',
        { id: product.id },
      );
      expect(
        failed(updated)
          ? describeAnswer('update liveMigrationNote', updated)
          : updated.data.updateProductById.product,
      ).toEqual({ name: product.name, liveMigrationNote: 'X-1' });
      const { rows } = await owner.query(
        'select live_migration_note from app_public.products where tenant_id = $1 and name = $2',
        [tenants[0]!.tenantId, product.name],
      );
      expect(rows).toEqual([{ live_migration_note: 'X-1' }]);
    },
  );
});

describe('acknowledged if and only if committed', () => {
  test('refused mutations leave no row behind, and every acknowledged one is there', async () => {
    const [mine, theirs] = await Promise.all([createTenant('ack-a'), createTenant('ack-b')]);
    const tag = randomUUID().slice(0, 8);
    const refusals = [
      {
        why: 'a negative price',
        token: mine!.tokens.member,
        name: `negative-${tag}`,
        price: '-1',
        code: 'INVALID_VALUE',
      },
      {
        why: "another tenant's category",
        token: mine!.tokens.member,
        name: `foreign-category-${tag}`,
        categoryId: theirs!.categoryId,
        code: 'INVALID_REFERENCE',
      },
      {
        why: 'a name over 200 characters',
        token: mine!.tokens.member,
        name: `long-${tag}-${'x'.repeat(200)}`,
        code: 'INVALID_VALUE',
      },
      { why: 'a viewer creating', token: mine!.tokens.viewer, name: `by-viewer-${tag}`, code: 'FORBIDDEN' },
    ];
    const accepted = [
      { token: mine!.tokens.member, name: `accepted-member-${tag}`, categoryId: mine!.categoryId },
      { token: mine!.tokens.admin, name: `accepted-admin-${tag}` },
      { token: theirs!.tokens.member, name: `accepted-other-tenant-${tag}`, categoryId: theirs!.categoryId },
    ];

    const refusedAnswers = await Promise.all(
      refusals.map(({ token, name, price = '1.00', categoryId }) =>
        graphql(token, CREATE, { name, price, categoryId }),
      ),
    );
    const acceptedAnswers = await Promise.all(
      accepted.map(({ token, name, categoryId }) =>
        graphql(token, CREATE, { name, price: '3.00', categoryId }),
      ),
    );

    expect(
      refusals.map((refusal, i) => ({
        why: refusal.why,
        product: refusedAnswers[i]!.data?.createProduct?.product ?? null,
        codes: (refusedAnswers[i]!.errors ?? []).map((error) => error.extensions?.code),
      })),
    ).toEqual(refusals.map(({ why, code }) => ({ why, product: null, codes: [code] })));
    expect(
      acceptedAnswers.map((answer) =>
        failed(answer) ? describeAnswer('create', answer) : answer.data.createProduct.product.name,
      ),
    ).toEqual(accepted.map(({ name }) => name));

    const written = await countByName([...refusals, ...accepted].map(({ name }) => name));
    expect(Object.fromEntries(refusals.map(({ name, why }) => [why, written.get(name) ?? 0]))).toEqual(
      Object.fromEntries(refusals.map(({ why }) => [why, 0])),
    );
    expect(accepted.map(({ name }) => written.get(name) ?? 0)).toEqual(accepted.map(() => 1));
  });
});

/**
 * Calls `fn` until `ok` holds for its result (or `ms` pass), and returns the last result.
 * The default wait is what watch mode needs to rebuild and judge the schema on this machine:
 * a multiple of the schema build measured at start-up (15 s was a guess a loaded machine broke).
 */
async function until<T>(fn: () => Promise<T>, ok: (value: T) => boolean, ms = rebuildWaitMs()): Promise<T> {
  const began = performance.now();
  let value = await fn();
  while (!ok(value) && performance.now() - began < ms) {
    await sleep(100);
    value = await fn();
  }
  return value;
}

describe('watch mode and the schema guard', () => {
  test(
    'a careless table is not served, and another tenant cannot read it; once its policy ties it to the tenant, it is served',
    WATCH_TEST,
    async () => {
      const [a, b] = await Promise.all([createTenant('watch-a'), createTenant('watch-b')]);
      const since = logLines.length;
      await owner.query(`
      create table app_public.watch_notes (
        tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants,
        id uuid not null default gen_random_uuid(),
        body text not null,
        primary key (tenant_id, id)
      );
      grant select on app_public.watch_notes to ${shared.visitor};
      insert into app_public.watch_notes (tenant_id, body) values ('${a.tenantId}', 'A''s note');
    `);
      await until(
        async () => logLines.slice(since),
        (lines) => lines.some((line) => /refuses the rebuilt schema/.test(line)),
      );
      expect(logLines.slice(since)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^error rls_disabled: table app_public\.watch_notes: row level security is not enabled \(docs\/guard\.md#rls_disabled\)$/,
          ),
          expect.stringMatching(/still serving the last one it accepted/),
        ]),
      );
      const refused = await graphql(b.tokens.member, '{ watchNotes { nodes { body } } }');
      expect({
        data: refused.data ?? null,
        codes: refused.errors?.map((error) => error.extensions?.code),
      }).toEqual({ data: null, codes: ['GRAPHQL_VALIDATION_FAILED'] });

      await owner.query(`
      alter table app_public.watch_notes enable row level security;
      alter table app_public.watch_notes force row level security;
      create policy select_own_tenant on app_public.watch_notes for select using (tenant_id = (select app_public.current_tenant_id()));
      create trigger _900_audit after insert or update or delete on app_public.watch_notes for each row execute function app_private.tg__audit();
    `);
      const asB = await until(
        () => graphql(b.tokens.member, '{ watchNotes { nodes { body } } }'),
        (answer) => !failed(answer),
      );
      expect(failed(asB) ? describeAnswer('watchNotes as B', asB) : asB.data.watchNotes.nodes).toEqual([]);
      const asA = await graphql(a.tokens.member, '{ watchNotes { nodes { body } } }');
      expect(asA.data?.watchNotes.nodes).toEqual([{ body: "A's note" }]);
    },
  );

  test(
    'a leak in a table already served answers 503 SCHEMA_REFUSED until it is fixed',
    WATCH_TEST,
    async () => {
      const [, b] = await Promise.all([createTenant('leak-a'), createTenant('leak-b')]);
      // PostGraphile rebuilds on no policy change: the guard's own recheck finds it.
      await owner.query('create policy watch_leak on app_public.products for select using (true)');
      try {
        const refused = await until(
          () => graphql(b.tokens.member, LIST),
          (answer) => answer.status === 503,
        );
        expect({
          status: refused.status,
          data: refused.data ?? null,
          code: refused.errors?.[0]?.extensions?.code,
        }).toEqual({ status: 503, data: null, code: 'SCHEMA_REFUSED' });
        expect(refused.errors?.[0]?.message).toMatch(
          /policy_ignores_tenant policy watch_leak on app_public\.products/,
        );
      } finally {
        await owner.query('drop policy if exists watch_leak on app_public.products');
      }
      const served = await until(
        () => graphql(b.tokens.member, LIST),
        (answer) => !failed(answer),
      );
      expect(
        failed(served) ? describeAnswer('list after the fix', served) : served.data.products.nodes.length,
      ).toBe(0);
    },
  );

  test('a new constraint comment is the message clients see, without a restart', WATCH_TEST, async () => {
    const tenant = await createTenant('comment');
    await owner.query(
      "comment on constraint products_price_check on app_public.products is 'Prices start at zero (reloaded with the schema).'",
    );
    const answer = await until(
      () =>
        graphql(tenant.tokens.member, CREATE, { name: `negative-${randomUUID().slice(0, 8)}`, price: '-1' }),
      (result) => result.errors?.[0]?.message === 'Prices start at zero (reloaded with the schema).',
    );
    expect(answer.errors?.map((error) => [error.extensions?.code, error.message])).toEqual([
      ['INVALID_VALUE', 'Prices start at zero (reloaded with the schema).'],
    ]);
  });
});
