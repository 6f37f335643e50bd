// One catalogue of error codes: docs/errors.md's table lists exactly its codes with their
// statuses, every SQLSTATE maps to one code, and the codes the server can raise are all
// in it (the types see to the rest: sendError and AuthError take catalogue codes only).
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { CATALOGUE, codeForSqlstate } from '../src/errors/catalogue.ts';

async function documentedErrorTable(): Promise<Map<string, number>> {
  const page = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const start = page.indexOf('\n## Codes\n');
  expect(start).toBeGreaterThan(0);
  const end = page.indexOf('\n## ', start + 1);
  const section = page.slice(start, end < 0 ? undefined : end);
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)];
  return new Map(rows.map(([, code, status]) => [code!, Number(status)]));
}

test("docs/errors.md's table lists exactly the catalogue's codes, with their statuses", async () => {
  const table = await documentedErrorTable();
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
