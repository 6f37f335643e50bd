// bench/README.md's latest figures are written from the results committed beside it
// (`npm run bench:report -- --readme`), and only the latest results are committed.
import { readdir, readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { referencedResults, renderReadmeFigures } from '../bench/lib/readme-figures.ts';

const bench = new URL('../bench/', import.meta.url);

test("the README's figure tables are what the results files they name say", async () => {
  const readme = await readFile(new URL('README.md', bench), 'utf8');
  expect(referencedResults(readme).length).toBeGreaterThan(0);
  // On a mismatch: npm run bench:report -- --readme
  expect(await renderReadmeFigures(readme, bench.pathname)).toBe(readme);
});

test('every committed results file is one the README shows (older runs live in git history)', async () => {
  const readme = await readFile(new URL('README.md', bench), 'utf8');
  const committed = (await readdir(new URL('results/', bench))).filter((file) => file.endsWith('.json'));
  expect(committed.map((file) => `results/${file}`).sort()).toEqual(referencedResults(readme).sort());
});
