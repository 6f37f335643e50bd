// Abuse limits (OWASP API4): document limits, hints, response size and how they are
// configured; security headers and the request log. Each refusal is a 4xx whose code
// names the limit. Budgets and bulkheads: budgets.test.ts.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { readEnv } from '../src/config.ts';
import { tokenFor, useApi } from './support/api.ts';
import { bulkProducts } from './support/db.ts';
import { capturedLogger } from './support/log-capture.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

let a: TenantFixture;
let b: TenantFixture;
let tokenA: string;
beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('limits-a'), createTenant('limits-b')]);
  tokenA = tokenFor({ userId: a.users.owner, tenantId: a.id });
});
const auth = () => ({ authorization: `Bearer ${tokenA}` });

describe('query limits (production defaults)', () => {
  const api = useApi();

  test('a query nested deeper than maxDepth: 400 QUERY_TOO_DEEP', async () => {
    let selection = 'name';
    for (let i = 0; i < 6; i++) selection = `category { products { nodes { ${selection} } } }`;
    const { status, body } = await api.post({ query: `{ products { nodes { ${selection} } } }` }, auth());
    expect(status).toBe(400);
    expect(body.errors[0].extensions.code).toBe('QUERY_TOO_DEEP');
    expect(body.errors[0].message).toMatch(/10/);
  });

  test('connections multiply the cost by `first`: 400 QUERY_TOO_COMPLEX, also through variables', async () => {
    const query =
      'query ($n: Int) { products(first: $n) { nodes { name category { products(first: $n) { nodes { name price } } } } } }';
    const small = await api.post({ query, variables: { n: 5 } }, auth());
    expect(small.status).toBe(200);
    const large = await api.post({ query, variables: { n: 100 } }, auth());
    expect(large.status).toBe(400);
    expect(large.body.errors[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
    expect(large.body.errors[0].message).toMatch(/limit of 5000 per operation \(MAX_QUERY_COST\)/);
  });

  test('counting is cheap: totalCount of every category needs no page size', async () => {
    const { status, body } = await api.post(
      { query: '{ categories { nodes { name products { totalCount } } } }' },
      auth(),
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  test('too many aliases, directives or tokens: 400 with the limit named', async () => {
    const aliases = await api.post(
      { query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: currentTenant { name }`).join(' ')} }` },
      auth(),
    );
    expect([aliases.status, aliases.body.errors[0].extensions.code]).toEqual([400, 'TOO_MANY_ALIASES']);
    const directives = await api.post(
      { query: `{ currentTenant { name ${'@include(if: true) '.repeat(12)} } }` },
      auth(),
    );
    expect([directives.status, directives.body.errors[0].extensions.code]).toEqual([
      400,
      'TOO_MANY_DIRECTIVES',
    ]);
    const tokens = await api.post({ query: `{ currentTenant { ${'name '.repeat(3000)} } }` }, auth());
    expect([tokens.status, tokens.body.errors[0].extensions.code]).toEqual([400, 'QUERY_TOO_LARGE']);
  });

  test('bodies over maxBodyBytes: 413; batches: 400', async () => {
    const huge = await api.post(
      { query: '{ currentTenant { name } }', variables: { pad: 'x'.repeat(200_000) } },
      auth(),
    );
    expect([huge.status, huge.body.errors[0].extensions.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const batch = await api.post(
      [{ query: '{ currentTenant { name } }' }, { query: '{ currentTenant { name } }' }],
      auth(),
    );
    expect([batch.status, batch.body.errors[0].extensions.code]).toEqual([400, 'BAD_REQUEST']);
  });

  test('introspection and field suggestions are off in production', async () => {
    const schema = await api.post({ query: '{ __schema { types { name } } }' }, auth());
    expect([schema.status, schema.body.errors[0].extensions.code]).toEqual([400, 'INTROSPECTION_DISABLED']);
    const type = await api.post({ query: '{ __type(name: "Product") { fields { name } } }' }, auth());
    expect(type.body.errors[0].extensions.code).toBe('INTROSPECTION_DISABLED');
    const typo = await api.post({ query: '{ prodcts { totalCount } }' }, auth());
    expect(typo.body.errors[0].message).toMatch(/Cannot query field "prodcts"/);
    expect(typo.body.errors[0].message).not.toMatch(/Did you mean/);
  });

  test('no schema hints in production from variable coercion either: misspelt fields, filter operators and enum values', async () => {
    const attempts = [
      {
        query: 'query ($o: [ProductOrderBy!]) { products(orderBy: $o) { totalCount } }',
        variables: { o: ['PRIC_DESC'] },
      },
      {
        query: 'query ($f: ProductFilter) { products(filter: $f) { totalCount } }',
        variables: { f: { prise: { equalTo: '1' } } },
      },
      {
        query: 'query ($f: ProductFilter) { products(filter: $f) { totalCount } }',
        variables: { f: { price: { equalTooo: '1' } } },
      },
      {
        query: 'query ($g: [ProductGroupBy!]!) { products { groupedAggregates(groupBy: $g) { keys } } }',
        variables: { g: ['NAMEE'] },
      },
    ];
    for (const attempt of attempts) {
      const { status, body } = await api.post(attempt, auth());
      expect(status, JSON.stringify(body)).toBeLessThan(500);
      expect(body.errors.length).toBeGreaterThan(0);
      for (const error of body.errors) {
        expect(error.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(error.message).not.toMatch(/Did you mean|"PRICE_DESC"|"price"|"equalTo"|"NAME"/);
      }
    }
  });

  test('security headers, and no x-powered-by', async () => {
    const { headers } = await api.post({ query: '{ currentTenant { name } }' }, auth());
    expect(headers.get('x-powered-by')).toBeNull();
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('strict-transport-security')).toMatch(/max-age/);
    expect(headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('statement timeout', () => {
  const api = useApi({ timeouts: { statementMs: 1, requestMs: 15_000, connectMs: 2_000 } });

  test('a query running past STATEMENT_TIMEOUT_MS is cancelled with QUERY_TIMEOUT, and the server carries on', async () => {
    await bulkProducts(b.id, 60_000);
    const tokenB = tokenFor({ userId: b.users.viewer, tenantId: b.id });
    const slow = await api.post(
      { query: '{ products { groupedAggregates(groupBy: [NAME]) { keys sum { price } } } }' },
      { authorization: `Bearer ${tokenB}` },
    );
    expect(slow.status).toBe(200);
    expect(slow.body.errors[0]).toMatchObject({ extensions: { code: 'QUERY_TIMEOUT' } });
    const health = await fetch(`${api.url}/readyz`);
    expect(health.status).toBe(200);
  });
});

describe('response size', () => {
  const api = useApi({ limits: { maxResponseBytes: 300 } });

  test('a response over MAX_RESPONSE_BYTES is refused with RESPONSE_TOO_LARGE, before it is written out', async () => {
    const small = await api.post({ query: '{ products(first: 1) { nodes { name } } }' }, auth());
    expect(small.status).toBe(200);
    const large = await api.post(
      { query: '{ products(first: 20) { nodes { id name price createdAt updatedAt } } }' },
      auth(),
    );
    expect([large.status, large.body.errors[0].extensions.code]).toEqual([400, 'RESPONSE_TOO_LARGE']);
    expect(large.body.data).toBeUndefined();
    expect(large.body.extensions.cost.actualQueryCost).toBeGreaterThan(0);
  });
});

describe('configuration of the limits', () => {
  const base = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };

  test('one tenant may not be allowed more than half the pool, nor an operation more than a whole bucket', () => {
    expect(() => readEnv({ ...base, PG_POOL_MAX: '10', TENANT_CONCURRENCY: '6' })).toThrow(
      /TENANT_CONCURRENCY: must be between 1 and half of PG_POOL_MAX \(5\)/,
    );
    expect(() => readEnv({ ...base, BUDGET_POINTS: '1000', MAX_QUERY_COST: '5000' })).toThrow(
      /MAX_QUERY_COST: must not be larger than BUDGET_POINTS/,
    );
    expect(() => readEnv({ ...base, DEFAULT_PAGE_SIZE: '500', MAX_PAGE_SIZE: '100' })).toThrow(
      /DEFAULT_PAGE_SIZE/,
    );
    expect(readEnv({ ...base, BUDGET_POINTS: '0', MAX_QUERY_COST: '50000' }).BUDGET_POINTS).toBe(0);
  });
});

describe('CORS', () => {
  const api = useApi({ corsOrigins: ['https://app.example.com'] });

  test('answers allowed origins and only those', async () => {
    const allowed = await api.post(
      { query: '{ currentTenant { name } }' },
      { ...auth(), origin: 'https://app.example.com' },
    );
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await api.post(
      { query: '{ currentTenant { name } }' },
      { ...auth(), origin: 'https://evil.example.com' },
    );
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the request log', () => {
  const { logger, lines } = capturedLogger();
  const api = useApi({ logger });

  test('one line per request with id, tenant, user, operation, status and duration; never the token or variables', async () => {
    const secret = `secret-${randomUUID()}`;
    await api.post(
      {
        query: 'query ListProducts($q: String) { products(condition: { name: $q }) { totalCount } }',
        variables: { q: secret },
      },
      auth(),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const entries = lines.map((line) => JSON.parse(line)).filter((entry) => entry.req?.url === '/graphql');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      tenantId: a.id,
      userId: a.users.owner,
      operationName: 'ListProducts',
      res: { statusCode: 200 },
    });
    expect(entries[0].req.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof entries[0].responseTime).toBe('number');
    const everything = lines.join('\n');
    expect(everything).not.toContain(tokenA);
    expect(everything).not.toContain(secret);
  });
});
