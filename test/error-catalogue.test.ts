// One catalogue of error codes: the README's table lists exactly its codes with their
// statuses, every SQLSTATE maps to one code, and the codes the server can raise are all
// in it (the types see to the rest: sendError and AuthError take catalogue codes only).
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { CATALOGUE, codeForSqlstate } from '../src/errors/catalogue.ts';

async function readmeErrorTable(): Promise<Map<string, number>> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('### Errors'),
    readme.indexOf('\n### ', readme.indexOf('### Errors') + 1),
  );
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)];
  return new Map(rows.map(([, code, status]) => [code!, Number(status)]));
}

test("the README's error table lists exactly the catalogue's codes, with their statuses", async () => {
  const table = await readmeErrorTable();
  expect([...table.keys()].sort()).toEqual(Object.keys(CATALOGUE).sort());
  for (const [code, status] of table)
    expect(status, code).toBe(CATALOGUE[code as keyof typeof CATALOGUE].status);
});

test('no SQLSTATE maps to two codes', () => {
  const sqlstates = Object.values(CATALOGUE).flatMap((entry) =>
    'sqlstates' in entry ? [...entry.sqlstates] : [],
  );
  expect(new Set(sqlstates).size).toBe(sqlstates.length);
  expect(codeForSqlstate.get('42501')).toBe('FORBIDDEN');
});

test('every code the server sources name is in the catalogue', async () => {
  const { execFileSync } = await import('node:child_process');
  // Every quoted UPPER_SNAKE word in the code that answers errors is one.
  const places = ['src/errors', 'src/limits', 'src/plugins', 'src/http', 'src/auth', 'src/server.ts'];
  const sources = execFileSync(
    'git',
    ['grep', '--untracked', '-hoE', "'[A-Z]+(_[A-Z]+)+'", '--', ...places],
    { encoding: 'utf8' },
  );
  const named = new Set([...sources.matchAll(/'([A-Z_]{4,})'/g)].map((match) => match[1]!));
  expect(named.size).toBeGreaterThanOrEqual(30);
  expect([...named].filter((code) => !(code in CATALOGUE))).toEqual([]);
});
