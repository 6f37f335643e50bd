// The scaling section: the list scenario through `npm start` with one API process and
// with API_PROCESSES=N (lib/api.ts), phases alternating, the same
// connections and tenants, so the gain of running one process per core is measured in
// one run on one machine. On a machine where PostgreSQL and the load generator share the
// cores with the API, the gain is bounded by what they leave: the report says how busy
// each part was.
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import { ratio, round } from './stats.ts';

export interface ScalingResult {
  processes: number;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  one: Measured[];
  many: Measured[];
}

export interface ScalingOptions extends Measuring {
  processes: number;
  connections: number;
  rounds: number;
  seconds: number;
  start(processes: number): Promise<ApiProcess>;
  load(api: ApiProcess, connections: number, seconds: number): Promise<LoadResult>;
}

export async function runScaling(options: ScalingOptions): Promise<ScalingResult> {
  const { log } = options;
  const apis = new Map<number, ApiProcess>();
  try {
    for (const count of [1, options.processes]) {
      const api = await options.start(count);
      apis.set(count, api);
      log(`  npm start with API_PROCESSES=${count}: ready in ${Math.round(api.startMs)} ms`);
      await options.load(api, options.connections, 2);
    }
    const result: ScalingResult = {
      processes: options.processes,
      connections: options.connections,
      secondsPerPhase: options.seconds,
      rounds: options.rounds,
      one: [],
      many: [],
    };
    for (let round = 0; round < options.rounds; round++) {
      for (const count of [1, options.processes]) {
        const api = apis.get(count)!;
        const measured = await options.measure(api.pid, () =>
          options.load(api, options.connections, options.seconds),
        );
        (count === 1 ? result.one : result.many).push(measured);
        log(
          `  ${String(count).padStart(2)} process(es) ${measured.throughput}/s  p50 ${measured.latencyMs.p50}` +
            ` p99 ${measured.latencyMs.p99} ms  API CPU ${measured.usage.apiCpuPercent}%` +
            ` (${measured.apiCpuMsPerRequest} ms/req)  errors ${measured.errors}`,
        );
      }
    }
    return result;
  } finally {
    for (const api of apis.values()) await api.stop();
  }
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
