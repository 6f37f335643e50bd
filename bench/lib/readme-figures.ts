// The tables of bench/README.md's latest figures, written from the results files they
// name, so the README cannot drift from the figures committed beside it. A block:
//
//   <!-- bench-figures targets results/<date>.json [name prefix] -->
//   ...generated...
//   <!-- /bench-figures -->
//
// `targets` lists the run's targets (those whose name starts with the prefix, if given);
// `scenarios` the API's figures per scenario at 1 and 16 connections. Regenerate with
// `npm run bench:report -- --readme`; test/bench-readme.test.ts checks they match.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchResults } from './results.ts';

const BLOCK = /<!-- bench-figures (\w+) (\S+\.json)(?: ([^>]*?))? -->\n[\s\S]*?<!-- \/bench-figures -->/g;

const number = (value: number, digits = 1) =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits });
const goal = (text: string) => text.replace('>=', '≥').replace('<=', '≤');

function targetsTable(results: BenchResults, prefix: string | undefined): string {
  const targets = results.targets.filter((target) => !prefix || target.name.startsWith(prefix));
  const verdict = (met: boolean | null) => (met === null ? '' : met ? 'met' : 'missed');
  return [
    '| target | goal | measured | |',
    '| --- | --- | --- | --- |',
    ...targets.map((t) => `| ${t.name} | ${goal(t.goal)} | ${t.measured} | ${verdict(t.met)} |`),
  ].join('\n');
}

function scenariosTable(results: BenchResults): string {
  const rows = results.scenarios.map((scenario) => {
    const at = (connections: number) => scenario.points.find((point) => point.connections === connections);
    const cell = (connections: number) => {
      const api = at(connections)?.api;
      if (!api) return '–';
      const { p50, p99 } = api.latencyMs;
      return `${number(api.throughput, 0)}/s, ${number(p50, 1)}/${number(p99, 1)}`;
    };
    const cpu = scenario.points
      .map((point) => point.api.apiCpuMsPerRequest)
      .filter((ms): ms is number => typeof ms === 'number');
    const [low, high] = [Math.min(...cpu), Math.max(...cpu)].map((ms) => number(ms, 1));
    const cpuCell = cpu.length === 0 ? '–' : low === high ? `${low} ms` : `${low}–${high} ms`;
    const point16 = at(16);
    const ceiling16 = point16 && Math.max(point16.ceiling.throughput, point16.pgbench?.throughput ?? 0);
    const share = point16 && ceiling16 ? `${Math.round((point16.api.throughput / ceiling16) * 100)}%` : '–';
    return `| ${scenario.name} | ${cell(1)} | ${cell(16)} | ${cpuCell} | ${share} |`;
  });
  return [
    '| scenario | 1 connection | 16 connections | API CPU per request | API / ceiling at 16 |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export function figuresTable(kind: string, results: BenchResults, prefix?: string): string {
  if (kind === 'targets') return targetsTable(results, prefix);
  if (kind === 'scenarios') return scenariosTable(results);
  throw new Error(`Unknown bench-figures table ${kind}; known: targets, scenarios`);
}

/** The results files (relative to the README) the README's blocks are written from. */
export function referencedResults(readme: string): string[] {
  return [...new Set([...readme.matchAll(BLOCK)].map((match) => match[2]!))];
}

/** `readme` with every block written again from the results file it names (relative to `dir`). */
export async function renderReadmeFigures(readme: string, dir: string): Promise<string> {
  const results = new Map<string, BenchResults>();
  for (const file of referencedResults(readme)) {
    results.set(file, JSON.parse(await readFile(path.join(dir, file), 'utf8')) as BenchResults);
  }
  return readme.replace(BLOCK, (_block, kind: string, file: string, prefix: string | undefined) => {
    const head = `<!-- bench-figures ${kind} ${file}${prefix ? ` ${prefix}` : ''} -->`;
    return `${head}\n${figuresTable(kind, results.get(file)!, prefix)}\n<!-- /bench-figures -->`;
  });
}
