// schema.graphql is committed so every API change shows in review. This fails when it
// is stale; `npm run schema:update` (or `npm start` in development) rewrites it.
import { readFile, writeFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { SCHEMA_FILE, schemaSDL } from '../src/schema-file.ts';
import { useApi } from './support/api.ts';

const api = useApi();

test('schema.graphql matches the schema the migrations produce', async () => {
  const current = schemaSDL(api.server.schema);
  if (process.env.UPDATE_SCHEMA === '1') await writeFile(SCHEMA_FILE, current);
  const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
  expect(
    committed === current,
    'schema.graphql is stale: run `npm run schema:update` and commit the result',
  ).toBe(true);
});
