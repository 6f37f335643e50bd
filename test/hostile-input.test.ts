// Garbage at the front door: every hostile request is refused with a clear message and
// a code (a 4xx when refused before execution; 200 with the error in the body when the
// operation ran, by GraphQL over HTTP), never a 5xx or a crash; memory stays bounded;
// refused requests change nothing.
import { request as httpRequest } from 'node:http';
import { beforeAll, expect, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';

const api = useApi();
let t: TenantFixture;
let token: string;
beforeAll(async () => {
  t = await createTenant('hostile');
  token = tokenFor({ userId: t.users.owner, tenantId: t.id });
});

interface Hostile {
  name: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

// Raw HTTP, so nothing in a client library tidies up what we send.
function send({
  method = 'POST',
  path = '/graphql',
  headers = {},
  body,
}: Hostile): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(api.url);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...(body !== undefined && { 'content-length': Buffer.byteLength(body) }), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = { 'content-type': 'application/json' };
const bearer = () => ({ authorization: `Bearer ${token}` });
const gql = (query: string, variables?: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ query, variables, ...extra });
const create =
  'mutation ($name: String!, $price: BigFloat!, $c: UUID) { createProduct(input: { name: $name, price: $price, categoryId: $c }) { product { rowId } } }';

const hostile = (): Hostile[] => [
  { name: 'non-JSON body', headers: { ...json, ...bearer() }, body: 'this is not json' },
  {
    name: 'truncated JSON',
    headers: { ...json, ...bearer() },
    body: '{"query": "{ products { nodes { name } }',
  },
  { name: 'JSON that is a string', headers: { ...json, ...bearer() }, body: '"{ products { totalCount } }"' },
  { name: 'JSON null', headers: { ...json, ...bearer() }, body: 'null' },
  { name: 'empty body', headers: { ...json, ...bearer() }, body: '' },
  {
    name: 'text/plain',
    headers: { 'content-type': 'text/plain', ...bearer() },
    body: '{ products { totalCount } }',
  },
  {
    name: 'form-urlencoded (CSRF shape)',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...bearer() },
    body: 'query=%7B+products+%7B+totalCount+%7D+%7D',
  },
  {
    name: 'multipart',
    headers: { 'content-type': 'multipart/form-data; boundary=x', ...bearer() },
    body: '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ products { totalCount } }\r\n--x--',
  },
  { name: 'no content type', headers: bearer(), body: gql('{ products { totalCount } }') },
  {
    name: 'huge body (2 MB)',
    headers: { ...json, ...bearer() },
    body: gql('{ products { totalCount } }', { pad: 'x'.repeat(2_000_000) }),
  },
  {
    name: 'deeply nested document',
    headers: { ...json, ...bearer() },
    body: gql(`{ ${'products { nodes { category { '.repeat(300)}name${' } } }'.repeat(300)} }`),
  },
  {
    name: '100k-deep braces',
    headers: { ...json, ...bearer() },
    body: gql(`{ products ${'{ a '.repeat(30_000)}${'}'.repeat(30_000)} }`),
  },
  {
    name: 'enormous document (5,000 fields)',
    headers: { ...json, ...bearer() },
    body: gql(`{ currentTenant { ${'name '.repeat(5_000)} } }`),
  },
  {
    name: 'unknown operation name',
    headers: { ...json, ...bearer() },
    body: gql('query A { currentTenant { name } }', {}, { operationName: 'B' }),
  },
  {
    name: 'two operations, none named',
    headers: { ...json, ...bearer() },
    body: gql('query A { currentTenant { name } } query B { currentUser { rowId } }'),
  },
  { name: 'unknown field', headers: { ...json, ...bearer() }, body: gql('{ secrets { password } }') },
  { name: 'query is a number', headers: { ...json, ...bearer() }, body: JSON.stringify({ query: 42 }) },
  {
    name: 'variables is a string',
    headers: { ...json, ...bearer() },
    body: JSON.stringify({ query: '{ currentTenant { name } }', variables: '{"a":1}' }),
  },
  {
    name: 'invalid UUID variable',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'x', price: '1', c: 'not-a-uuid' }),
  },
  {
    name: 'price out of range for numeric(10,2)',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'x', price: '1e20' }),
  },
  {
    name: 'price not a number',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'x', price: 'twelve' }),
  },
  { name: 'price NaN', headers: { ...json, ...bearer() }, body: gql(create, { name: 'x', price: 'NaN' }) },
  {
    name: 'price negative infinity',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'x', price: '-Infinity' }),
  },
  {
    name: 'string with a NUL byte',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'nul\u0000byte', price: '1' }),
  },
  {
    name: 'name of 100k characters',
    headers: { ...json, ...bearer() },
    body: gql(create, { name: 'n'.repeat(90_000), price: '1' }),
  },
  {
    name: 'invalid global id',
    headers: { ...json, ...bearer() },
    body: gql('query ($id: ID!) { productById(id: $id) { name } }', { id: 'garbage!!' }),
  },
  {
    name: 'invalid global id, literal, in node()',
    headers: { ...json, ...bearer() },
    body: gql('{ node(id: "bm90IGFuIGlk") { id } }'),
  },
  {
    name: 'invalid global id inside an input object',
    headers: { ...json, ...bearer() },
    body: gql(
      'mutation ($input: DeleteProductByIdInput!) { deleteProductById(input: $input) { deletedProductId } }',
      { input: { id: 'not an id' } },
    ),
  },
  {
    name: 'first: -1',
    headers: { ...json, ...bearer() },
    body: gql('{ products(first: -1) { totalCount } }'),
  },
  {
    name: 'first: 2^31',
    headers: { ...json, ...bearer() },
    body: gql('{ products(first: 2147483648) { totalCount } }'),
  },
  {
    name: 'garbage cursor',
    headers: { ...json, ...bearer() },
    body: gql('{ products(after: "bm90IGEgY3Vyc29y") { totalCount } }'),
  },
  {
    name: 'garbage JWT',
    headers: { ...json, authorization: 'Bearer garbage.garbage.garbage' },
    body: gql('{ currentTenant { name } }'),
  },
  {
    name: 'JWT of random bytes',
    headers: {
      ...json,
      authorization: `Bearer ${Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)).toString('base64url')}`,
    },
    body: gql('{ currentTenant { name } }'),
  },
  {
    name: 'oversized JWT (12 kB)',
    headers: { ...json, authorization: `Bearer ${'a'.repeat(6_000)}.${'b'.repeat(6_000)}.c` },
    body: gql('{ currentTenant { name } }'),
  },
  {
    name: 'headers over 16 kB',
    headers: { ...json, authorization: `Bearer ${'a'.repeat(20_000)}` },
    body: gql('{ currentTenant { name } }'),
  },
  {
    name: 'empty bearer',
    headers: { ...json, authorization: 'Bearer ' },
    body: gql('{ currentTenant { name } }'),
  },
  {
    name: 'GET with a query string',
    method: 'GET',
    path: '/graphql?query=%7B+products+%7B+totalCount+%7D+%7D',
    headers: bearer(),
  },
  { name: 'PUT', method: 'PUT', headers: { ...json, ...bearer() }, body: gql('{ currentTenant { name } }') },
  { name: 'DELETE', method: 'DELETE', headers: bearer() },
  {
    name: 'unknown path',
    path: '/graphql/../../etc/passwd',
    headers: { ...json, ...bearer() },
    body: gql('{ currentTenant { name } }'),
  },
];

test('every hostile request is refused with a clear message and code, and nothing changes', async () => {
  const before = await snapshot(t.id);
  const rssBefore = process.memoryUsage().rss;
  const outcomes: string[] = [];
  for (const request of hostile()) {
    const { status, text } = await send(request);
    outcomes.push(`${status} ${request.name}`);
    expect(status, `${request.name}: ${text.slice(0, 300)}`).toBeLessThan(500);
    if (status !== 431) {
      const body = JSON.parse(text);
      expect(typeof body.errors?.[0]?.message, request.name).toBe('string');
      // Executed (200): every root field it asked for failed, each with a code.
      if (status === 200) {
        expect(
          Object.values(body.data ?? {}).every((value) => value === null),
          request.name,
        ).toBe(true);
        expect(
          body.errors.every(
            (error: { extensions?: { code?: string } }) => typeof error.extensions?.code === 'string',
          ),
          request.name,
        ).toBe(true);
      } else {
        expect(status, request.name).toBeGreaterThanOrEqual(400);
      }
      expect(text, request.name).not.toMatch(/\n\s+at |node_modules|app_public\.|select |insert /);
    }
  }
  const growth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  console.log(
    `hostile inputs: ${outcomes.length} tried, all 4xx; RSS grew ${growth.toFixed(1)} MiB\n  ${outcomes.join('\n  ')}`,
  );
  expect(growth).toBeLessThan(150);
  expect(await snapshot(t.id)).toEqual(before);
  // A well-formed id of a row this tenant cannot see reads as not found, like any other.
  const foreign = Buffer.from(
    JSON.stringify([
      'products',
      '00000000-0000-4000-8000-000000000000',
      '00000000-0000-4000-8000-000000000001',
    ]),
  ).toString('base64');
  const { status, text } = await send({
    name: 'lookup by a foreign id',
    headers: { ...json, ...bearer() },
    body: gql('query ($id: ID!) { productById(id: $id) { name } }', { id: foreign }),
  });
  expect([status, JSON.parse(text).data]).toEqual([200, { productById: null }]);
  const health = await fetch(`${api.url}/readyz`);
  expect(health.status).toBe(200);
});
