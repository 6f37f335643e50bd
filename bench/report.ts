// `npm run bench:report -- bench/results/<date>.json`: writes the .md and .svg of a run
// again from its JSON (after a change to how reports are laid out).
// `npm run bench:report -- --readme`: writes the tables of bench/README.md's latest
// figures again from the results files they name (lib/readme-figures.ts).
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderReadmeFigures } from './lib/readme-figures.ts';
import { writeReportFiles } from './lib/report-files.ts';
import type { BenchResults } from './lib/results.ts';

const USAGE = 'Usage: npm run bench:report -- bench/results/<date>.json | --readme';
const argument = process.argv[2];

if (argument === '--readme') {
  const readmeFile = fileURLToPath(new URL('README.md', import.meta.url));
  const readme = await readFile(readmeFile, 'utf8');
  const updated = await renderReadmeFigures(readme, fileURLToPath(new URL('.', import.meta.url)));
  await writeFile(readmeFile, updated);
  process.stdout.write(updated === readme ? 'bench/README.md is up to date\n' : 'Wrote bench/README.md\n');
} else {
  if (!argument?.endsWith('.json')) throw new Error(USAGE);
  const results = JSON.parse(await readFile(argument, 'utf8')) as BenchResults;
  const written = await writeReportFiles(results, argument.slice(0, -'.json'.length), false);
  process.stdout.write(`Wrote ${written.join(' and ')}\n`);
}
