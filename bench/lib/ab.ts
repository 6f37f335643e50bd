// The A/B section: one scenario through two API processes, this checkout's ("candidate")
// and another commit's ("baseline", lib/baseline.ts), each started as its production
// started it, over the same data, tokens and connections. Phases interleave A B B A A B
// ..., each in a process of its own, so drift of the machine over the run and the luck
// of one process's JIT fall on both alike; the figures are medians with the range of the
// phases beside them, the steadier one being the API's CPU per request.
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import { median, ratio, round } from './stats.ts';

export interface AbResult {
  /** compiled: false for a commit from before `npm run build`, run from its sources as it was. */
  baseline: { ref: string; commit: string; compiled?: boolean };
  candidate: { commit: string; dirty: boolean };
  scenario: string;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  /** The API's CPU per request of the candidate over the baseline's, at most (e.g. 0.7). */
  cpuGoal: number;
  baselinePhases: Measured[];
  candidatePhases: Measured[];
}

export interface AbOptions extends Measuring {
  connections: number;
  rounds: number;
  seconds: number;
  start(side: 'baseline' | 'candidate'): Promise<ApiProcess>;
  load(api: ApiProcess, connections: number, seconds: number): Promise<LoadResult>;
}

type Side = 'baseline' | 'candidate';

/** Seconds of load before each phase, not measured: V8 optimises the hot paths meanwhile. */
const WARM_UP_SECONDS = 3;

/** A B B A A B ...: each side first in every other round. */
export function phaseOrder(rounds: number): Side[] {
  return Array.from({ length: rounds }, (_, round): Side[] =>
    round % 2 === 0 ? ['baseline', 'candidate'] : ['candidate', 'baseline'],
  ).flat();
}

export async function runAb(
  options: AbOptions,
): Promise<Pick<AbResult, 'baselinePhases' | 'candidatePhases'>> {
  const { log } = options;
  const phases: Record<Side, Measured[]> = { baseline: [], candidate: [] };
  // Every phase in a fresh process: what V8 optimises, and how, is decided once per
  // process, and stays. Seen here: one process of unchanged code 40% slower than the
  // next, in all four of its phases.
  for (const side of phaseOrder(options.rounds)) {
    const api = await options.start(side);
    try {
      await options.load(api, options.connections, WARM_UP_SECONDS);
      const measured = await options.measure(api.pid, () =>
        options.load(api, options.connections, options.seconds),
      );
      phases[side].push(measured);
      log(
        `  ${side.padEnd(9)} ${String(measured.throughput).padStart(7)}/s  p50 ${measured.latencyMs.p50}` +
          ` p99 ${measured.latencyMs.p99} ms  API CPU ${measured.apiCpuMsPerRequest} ms/req` +
          `  peak RSS ${measured.usage.apiPeakRssMb} MB  errors ${measured.errors}  (process ${api.pid})`,
      );
    } finally {
      await api.stop();
    }
  }
  return { baselinePhases: phases.baseline, candidatePhases: phases.candidate };
}

/** The median of one figure over the phases, and its range. */
function spread(phases: Measured[], pick: (m: Measured) => number | null | undefined) {
  const values = phases.map(pick).filter((value): value is number => typeof value === 'number');
  if (values.length === 0) return { median: Number.NaN, text: 'n/a' };
  const m = median(values);
  const digits = m < 10 ? 3 : 1;
  return {
    median: m,
    text: `${round(m, digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`,
  };
}

export function abTargets(result: AbResult | { error: string }): Target[] {
  const name = 'A/B: API CPU per request, candidate / baseline';
  if ('error' in result) {
    return [
      { name, goal: 'reported', measured: `failed: ${result.error.slice(0, 200)}`, ratio: null, met: false },
    ];
  }
  const side = (phases: Measured[]) => ({
    cpu: spread(phases, (m) => m.apiCpuMsPerRequest),
    throughput: spread(phases, (m) => m.throughput),
    rss: spread(phases, (m) => m.usage.apiPeakRssMb),
    errors: phases.reduce((sum, m) => sum + m.errors, 0),
  });
  const a = side(result.baselinePhases);
  const b = side(result.candidatePhases);
  const cpuRatio = ratio(b.cpu.median, a.cpu.median);
  const candidate = `${result.candidate.commit.slice(0, 7)}${result.candidate.dirty ? ' + uncommitted changes' : ''}`;
  return [
    {
      name: `${name} (${result.scenario}, ${result.connections} connections; ${candidate} vs ${result.baseline.ref} = ${result.baseline.commit.slice(0, 7)}${result.baseline.compiled === false ? ', from its sources' : ''})`,
      goal: `<= ${Math.round(result.cpuGoal * 100)}%`,
      measured:
        `${b.cpu.text} vs ${a.cpu.text} ms/req = ${Math.round(cpuRatio * 100)}% ` +
        `(median and range of ${result.rounds} phases each; throughput ${b.throughput.text} vs ${a.throughput.text}/s; ` +
        `peak RSS ${b.rss.text} vs ${a.rss.text} MB; errors ${b.errors} vs ${a.errors})`,
      ratio: cpuRatio,
      met: b.errors + a.errors === 0 && cpuRatio <= result.cpuGoal,
    },
  ];
}
