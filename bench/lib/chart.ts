// Throughput and p99 latency against concurrency, per scenario, for the API and its
// database ceilings: Vega-Lite compiled to Vega, rendered to SVG in Node (no canvas,
// no native build).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchResults } from './results.ts';

export interface ChartPoint {
  scenario: string;
  source: string;
  connections: number;
  throughput: number;
  p99: number;
}

export async function renderChart(points: ChartPoint[], title: string): Promise<string> {
  const encoding = (field: 'throughput' | 'p99', label: string) => ({
    x: {
      field: 'connections',
      type: 'quantitative',
      title: 'concurrent connections',
      scale: { type: 'log', base: 2 },
      axis: { values: [1, 4, 16, 64] },
    },
    y: { field, type: 'quantitative', title: label, scale: { type: field === 'p99' ? 'log' : 'linear' } },
    color: { field: 'source', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
    strokeDash: {
      field: 'source',
      type: 'nominal',
      title: null,
      legend: { orient: 'bottom', labelLimit: 400 },
    },
  });
  const panel = (field: 'throughput' | 'p99', label: string) => ({
    facet: {
      column: {
        field: 'scenario',
        type: 'nominal',
        title: null,
        sort: [...new Set(points.map((point) => point.scenario))],
      },
    },
    spec: { width: 150, height: 150, mark: { type: 'line', point: true }, encoding: encoding(field, label) },
    resolve: { scale: { y: 'independent' } },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    data: { values: points.filter((point) => Number.isFinite(point.throughput) && point.throughput > 0) },
    vconcat: [panel('throughput', 'requests per second'), panel('p99', 'p99 latency (ms, log)')],
    config: { font: 'sans-serif' },
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export function chartPoints(results: BenchResults): ChartPoint[] {
  return results.scenarios.flatMap((result) =>
    result.points.flatMap((point) => [
      {
        scenario: result.name,
        source: 'API',
        connections: point.connections,
        throughput: point.api.throughput,
        p99: point.api.latencyMs.p99,
      },
      {
        scenario: result.name,
        source: 'pg ceiling (node-postgres)',
        connections: point.connections,
        throughput: point.ceiling.throughput,
        p99: point.ceiling.latencyMs.p99,
      },
      ...(point.pgbench
        ? [
            {
              scenario: result.name,
              source: 'pg ceiling (pgbench)',
              connections: point.connections,
              throughput: point.pgbench.throughput,
              p99: point.pgbench.latencyMs.p99,
            },
          ]
        : []),
    ]),
  );
}

export function chartTitle(results: BenchResults): string {
  const processes =
    results.settings.apiProcesses > 1 ? `, ${results.settings.apiProcesses} API processes` : '';
  return `tenantgraph: API vs database ceiling (${results.data.tenants} tenants, ${results.data.products} products, ${results.machine.cores} cores${processes})`;
}
