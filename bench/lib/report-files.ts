// A run's files: <stem>.json (every figure), <stem>.svg (the chart) and <stem>.md (the
// report), each written beside and renamed into place, so a reader never sees half a file.
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chartPoints, chartTitle, renderChart } from './chart.ts';
import { renderMarkdown } from './report.ts';
import type { BenchResults } from './results.ts';

/** Writes the report (and the JSON, unless `json` is false); returns the files written. */
export async function writeReportFiles(results: BenchResults, stem: string, json = true): Promise<string[]> {
  const points = chartPoints(results);
  const outputs: Array<[string, string]> = [];
  if (json) outputs.push([`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`]);
  if (points.length > 0) outputs.push([`${stem}.svg`, await renderChart(points, chartTitle(results))]);
  const chart = points.length > 0 ? path.basename(`${stem}.svg`) : undefined;
  outputs.push([`${stem}.md`, renderMarkdown(results, chart)]);
  for (const [file, content] of outputs) {
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  }
  return outputs.map(([file]) => file);
}
