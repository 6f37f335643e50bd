// docs/configuration.md is written from src/config.ts: each variable's name, default,
// description and the page that explains it. This fails when the committed file is stale
// (`npm run docs:config` rewrites it) or when a variable is declared without a
// description or a page, so a new setting cannot reach the server undocumented.
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { readEnv } from '../src/config.ts';
import { CONFIGURATION_DOC, configurationDoc, declaredVariables } from '../src/configuration-doc.ts';

test('docs/configuration.md is what `npm run docs:config` writes from src/config.ts now', async () => {
  const committed = await readFile(new URL(`../${CONFIGURATION_DOC}`, import.meta.url), 'utf8').catch(
    () => '',
  );
  expect(
    committed === (await configurationDoc()),
    'docs/configuration.md is stale: run `npm run docs:config` and commit the result',
  ).toBe(true);
});

test('every variable has a description and a page that explains it', () => {
  const variables = declaredVariables();
  expect(variables.length).toBeGreaterThan(60);
  expect(variables.filter((variable) => !variable.description?.trim()).map((v) => v.name)).toEqual([]);
  expect(variables.filter((variable) => !variable.page).map((v) => v.name)).toEqual([]);
});

test('every variable the server reads is in the document, with the default it applies', async () => {
  const doc = await configurationDoc();
  const defaults = readEnv({});
  for (const { name, default: value } of declaredVariables()) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, name).toBeDefined();
    // What an unset variable becomes is the default the row shows (APP_URL's is computed).
    if (value !== undefined && value !== '') expect(row, name).toContain(`| \`${String(value)}\` |`);
    if (name !== 'APP_URL') expect(defaults[name as keyof typeof defaults], name).toEqual(value);
  }
});
