// The HTTP contract clients are written against: GraphQL over HTTP by the specification
// (an executed operation answers 200 with its errors' codes; a request refused before
// execution answers 4xx), both media types, explain only on request, and trusted
// documents: production runs only the manifest's operations, with every limit applied.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CATALOGUE } from '../src/errors/catalogue.ts';
import { startApiServer, StartupError } from '../src/server.ts';
import { testServerOptions, tokenFor, useApi, type TestApi } from './support/api.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

let t: TenantFixture;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await createTenant('contract');
  auth = { authorization: `Bearer ${tokenFor({ userId: t.users.viewer, tenantId: t.id })}` };
});

const RESPONSE_JSON = 'application/graphql-response+json';
const accept = (type: string) => ({ accept: type });

describe('GraphQL over HTTP', () => {
  const api = useApi();

  test.each(['application/json', RESPONSE_JSON])(
    'an executed operation answers 200 with its errors coded (Accept: %s)',
    async (type) => {
      // A viewer may read but not create: the mutation runs and is refused by RLS.
      const { status, body, headers } = await api.post(
        { query: 'mutation { createProduct(input: { name: "x", price: "1" }) { product { rowId } } }' },
        { ...auth, ...accept(type) },
      );
      expect(status).toBe(200);
      expect(headers.get('content-type')).toMatch(type);
      expect(body.data).toEqual({ createProduct: null });
      expect(body.errors[0].extensions.code).toBe('FORBIDDEN');
    },
  );

  test.each(['application/json', RESPONSE_JSON])(
    'requests refused before execution answer 4xx, without data (Accept: %s)',
    async (type) => {
      const cases: Array<[Record<string, unknown>, Record<string, string>, number, string]> = [
        [{ query: '{ products {' }, auth, 400, 'GRAPHQL_PARSE_FAILED'],
        [{ query: '{ productz { totalCount } }' }, auth, 400, 'GRAPHQL_VALIDATION_FAILED'],
        [
          { query: 'query ($n: Int!) { products(first: $n) { totalCount } }', variables: { n: 'many' } },
          auth,
          400,
          'GRAPHQL_VALIDATION_FAILED',
        ],
        [{ query: '{ products(first: 5000) { nodes { name } } }' }, auth, 400, 'PAGE_SIZE_TOO_LARGE'],
        [
          { query: '{ currentTenant { name } }' },
          { authorization: 'Bearer not.a.token' },
          401,
          'UNAUTHENTICATED',
        ],
      ];
      for (const [body, headers, status, code] of cases) {
        const answer = await api.post(body, { ...headers, ...accept(type) });
        expect([answer.status, answer.body.errors[0].extensions.code], JSON.stringify(body)).toEqual([
          status,
          code,
        ]);
        expect(answer.body.data).toBeUndefined();
      }
    },
  );

  test('a refused update answers like a refused delete: NOT_FOUND, 200', async () => {
    const other = await createTenant('contract-other');
    const { body: listed } = await api.post(
      { query: '{ products(first: 1) { nodes { id } } }' },
      { authorization: `Bearer ${tokenFor({ userId: other.users.owner, tenantId: other.id })}` },
    );
    const id = listed.data.products.nodes[0].id;
    const owner = { authorization: `Bearer ${tokenFor({ userId: t.users.owner, tenantId: t.id })}` };
    const updated = await api.post(
      {
        query:
          'mutation ($id: ID!) { updateProductById(input: { id: $id, patch: { price: "0" } }) { product { rowId } } }',
        variables: { id },
      },
      owner,
    );
    const deleted = await api.post(
      {
        query: 'mutation ($id: ID!) { deleteProductById(input: { id: $id }) { deletedProductId } }',
        variables: { id },
      },
      owner,
    );
    for (const answer of [updated, deleted]) {
      expect([answer.status, answer.body.errors[0].extensions.code, answer.body.errors[0].message]).toEqual([
        200,
        'NOT_FOUND',
        CATALOGUE.NOT_FOUND.message,
      ]);
    }
  });
});

describe('explain, in development, only on request', () => {
  const api = useApi({ development: true });

  test('no plans or SQL by default; both with X-GraphQL-Explain, as GraphiQL sends it', async () => {
    const query = '{ products(first: 2) { nodes { name } } }';
    const plain = await api.post({ query }, auth);
    expect(plain.body.extensions.explain).toBeUndefined();
    expect(JSON.stringify(plain.body).length).toBeLessThan(1_000);
    const explained = await api.post({ query }, { ...auth, 'x-graphql-explain': 'plan,sql' });
    expect(
      explained.body.extensions.explain.operations.map((operation: { type: string }) => operation.type),
    ).toEqual(expect.arrayContaining(['sql', 'plan']));
  });
});

describe('trusted documents', () => {
  const LIST = 'query TrustedList { products(first: 2) { nodes { name } } }';
  const HEAVY =
    'query TooHeavy { products(first: 1000) { nodes { category { products(first: 1000) { nodes { name } } } } } }';
  const hash = (document: string) => createHash('sha256').update(document).digest('hex');
  let folder: string;
  let manifest: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-trusted-'));
    manifest = path.join(folder, 'trusted-documents.json');
    await writeFile(manifest, JSON.stringify({ [hash(LIST)]: LIST, [hash(HEAVY)]: HEAVY }));
  });
  afterAll(() => rm(folder, { recursive: true, force: true }));

  const production = {} as TestApi;
  const development = {} as TestApi;
  const useWith = (target: TestApi, enforce: boolean) => {
    const api = useApi({
      development: !enforce,
      trustedDocuments: {
        get file() {
          return manifest;
        },
        enforce,
      },
    });
    beforeAll(() => Object.assign(target, api));
  };
  useWith(production, true);
  useWith(development, false);

  test('production runs a trusted document named by its hash, Apollo- or Relay-style, with its cost reported', async () => {
    const apollo = await production.post(
      { extensions: { persistedQuery: { version: 1, sha256Hash: hash(LIST) } } },
      auth,
    );
    expect(apollo.status).toBe(200);
    expect(apollo.body.data.products.nodes).toHaveLength(2);
    expect(apollo.body.extensions.cost.requestedQueryCost).toBe(13);
    const relay = await production.post({ documentId: `sha256:${hash(LIST)}` }, auth);
    expect(relay.body.data.products.nodes).toHaveLength(2);
  });

  test('production refuses any other operation: the text of a query, or an unknown hash', async () => {
    const text = await production.post({ query: '{ products { nodes { name } } }' }, auth);
    expect([text.status, text.body.errors[0].extensions.code]).toEqual([400, 'TRUSTED_DOCUMENT_REQUIRED']);
    const unknown = await production.post({ documentId: hash('{ __typename }') }, auth);
    expect([unknown.status, unknown.body.errors[0].extensions.code]).toEqual([
      400,
      'TRUSTED_DOCUMENT_NOT_FOUND',
    ]);
  });

  test('a trusted document is still held to every limit', async () => {
    const heavy = await production.post({ documentId: hash(HEAVY) }, auth);
    expect([heavy.status, heavy.body.errors[0].extensions.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
  });

  test('development runs any query, and trusted documents too', async () => {
    expect(
      (await development.post({ query: '{ products { totalCount } }' }, auth)).body.data.products.totalCount,
    ).toBe(2);
    expect((await development.post({ documentId: hash(LIST) }, auth)).body.data.products.nodes).toHaveLength(
      2,
    );
  });

  test('production will not start without its manifest, nor with a tampered one', async () => {
    const tampered = path.join(folder, 'tampered.json');
    await writeFile(tampered, JSON.stringify({ [hash(LIST)]: `${LIST} ` }));
    for (const file of [path.join(folder, 'missing.json'), tampered]) {
      const started = startApiServer(testServerOptions({ trustedDocuments: { file, enforce: true } }));
      await expect(started).rejects.toBeInstanceOf(StartupError);
    }
    expect(JSON.parse(await readFile(manifest, 'utf8'))).toHaveProperty(hash(LIST));
  });
});
