// The results of the former scaling section (the list through `npm start` with one API
// process and with API_PROCESSES=N, alternating), kept so that committed results still
// render. The A/B preset `processes` measures the same now (lib/ab-presets.ts).
import type { Measured, Target } from './measured.ts';
import { ratio, round } from './stats.ts';

export interface ScalingResult {
  processes: number;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  one: Measured[];
  many: Measured[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Reported, not judged: what N processes gave over one, on this machine. */
export function scalingTargets(result: ScalingResult | { error: string }): Target[] {
  const name = 'scaling: list throughput with API_PROCESSES=N / one process (npm start)';
  if ('error' in result) {
    return [
      { name, goal: 'reported', measured: `failed: ${result.error.slice(0, 200)}`, ratio: null, met: null },
    ];
  }
  const one = median(result.one.map((m) => m.throughput));
  const many = median(result.many.map((m) => m.throughput));
  const gain = ratio(many, one);
  const cpu = (phases: Measured[]) => round(median(phases.map((m) => m.usage.apiCpuPercent ?? 0)), 0);
  const db = (phases: Measured[]) => round(median(phases.map((m) => m.usage.dbCpuPercent ?? 0)), 0);
  return [
    {
      name,
      goal: 'reported',
      measured:
        `N=${result.processes}: ${round(many, 1)}/s vs ${round(one, 1)}/s = ${gain}x at ${result.connections} connections ` +
        `(API CPU ${cpu(result.many)}% vs ${cpu(result.one)}% of a core, PostgreSQL ${db(result.many)}% vs ${db(result.one)}%)`,
      ratio: gain,
      met: null,
    },
  ];
}
