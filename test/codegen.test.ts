// The example app's typed documents (examples/web/src/gql/) and the trusted-documents
// manifest (trusted-documents.json) are committed, generated from schema.graphql and the
// app's .graphql files. These fail when either is stale (`npm run codegen` rewrites them)
// or when the manifest is not what the API and the app agree on.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { beforeAll, expect, test } from 'vitest';
import {
  documentId,
  GENERATED_DIR,
  generateClientFiles,
  TRUSTED_DOCUMENTS,
  type GeneratedFile,
} from '../codegen.ts';

const root = path.join(import.meta.dirname, '..');
const read = (file: string) => readFile(path.join(root, file), 'utf8').catch(() => undefined);

let generated: GeneratedFile[];
beforeAll(async () => {
  generated = await generateClientFiles();
}, 60_000);

test('the committed typed documents and manifest are what `npm run codegen` produces now', async () => {
  const stale = [];
  for (const file of generated) {
    if ((await read(file.path)) !== file.content) stale.push(file.path);
  }
  const committed = (await readdir(path.join(root, GENERATED_DIR))).map((name) => `${GENERATED_DIR}${name}`);
  const left = committed.filter((file) => !generated.some((output) => output.path === file));
  expect({ stale, left }, 'generated files are stale: run `npm run codegen` and commit the result').toEqual({
    stale: [],
    left: [],
  });
});

test('the manifest maps the sha256 hex of each document to its text, and every document is valid against schema.graphql', async () => {
  const manifest = JSON.parse(generated.find((file) => file.path === TRUSTED_DOCUMENTS)!.content) as Record<
    string,
    string
  >;
  const schema = buildSchema((await read('schema.graphql'))!);
  const entries = Object.entries(manifest);
  expect(entries.map(([, text]) => /^(query|mutation|subscription) (\w+)/.exec(text)?.[2]).sort()).toEqual([
    'AcceptInvitation',
    'Categories',
    'CreateProduct',
    // Signing up: without it, a production trial could create no tenant.
    'CreateTenant',
    'DeclineInvitation',
    'InvitationPreview',
    'ProductChanged',
    'ProductStats',
    'Products',
    'Session',
    'UpdateProduct',
  ]);
  for (const [id, text] of entries) {
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(documentId(text));
    expect(validate(schema, parse(text)).map((error) => error.message)).toEqual([]);
  }
});

test("the app's generated documents carry the ids of the manifest", () => {
  const manifest = JSON.parse(generated.find((file) => file.path === TRUSTED_DOCUMENTS)!.content) as Record<
    string,
    string
  >;
  const types = generated.find((file) => file.path === `${GENERATED_DIR}graphql.ts`)!.content;
  const embedded = [...types.matchAll(/"__meta__":\{"hash":"([0-9a-f]+)"\}/g)].map((match) => match[1]);
  expect(embedded.sort()).toEqual(Object.keys(manifest).sort());
});
