// `npm run bench:report -- bench/results/<date>.json`: writes the .md and .svg of a run
// again from its JSON (after a change to how reports are laid out).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chartPoints, chartTitle, renderChart } from './lib/chart.ts';
import { renderMarkdown } from './lib/report.ts';
import type { BenchResults } from './lib/results.ts';

const file = process.argv[2];
if (!file?.endsWith('.json')) throw new Error('Usage: npm run bench:report -- bench/results/<date>.json');
const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
const stem = file.slice(0, -'.json'.length);
const points = chartPoints(results);
if (points.length > 0) await writeFile(`${stem}.svg`, await renderChart(points, chartTitle(results)));
await writeFile(`${stem}.md`, renderMarkdown(results, points.length > 0 ? path.basename(`${stem}.svg`) : undefined));
process.stdout.write(`Wrote ${stem}.md${points.length > 0 ? ` and ${stem}.svg` : ''}\n`);

