// `npm run bench:report -- bench/results/<date>.json`: writes the .md and .svg of a run
// again from its JSON (after a change to how reports are laid out).
import { readFile } from 'node:fs/promises';
import { writeReportFiles } from './lib/report-files.ts';
import type { BenchResults } from './lib/results.ts';

const file = process.argv[2];
if (!file?.endsWith('.json')) throw new Error('Usage: npm run bench:report -- bench/results/<date>.json');
const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
const written = await writeReportFiles(results, file.slice(0, -'.json'.length), false);
process.stdout.write(`Wrote ${written.join(' and ')}\n`);
