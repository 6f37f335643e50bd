// The A/B section: one scenario through two variants of the API, A ("baseline") and B
// ("candidate"), each a commit (a git ref, lib/baseline.ts, or this checkout), an
// environment and node flags, started as production starts it, over the same data,
// tokens and connections. Phases interleave A B B A A B ..., each in a process of its
// own, so drift of the machine over the run and the luck of one process's JIT fall on
// both alike; the figures are medians with the range of the phases beside them.
// A named preset (lib/ab-presets.ts) fixes both variants, the scenario, the goal, and
// what a phase needs beside its process (a trigger disabled, keys instead of tokens).
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import type { BenchTenant } from './scenarios.ts';
import { median, ratio, round } from './stats.ts';

export type Side = 'baseline' | 'candidate';

/** One side of an A/B: what differs between the two API processes. */
export interface AbVariant {
  /** A git ref (a branch, HEAD~3, a sha); absent: this checkout, compiled at the start of the run. */
  rev?: string;
  /** Environment on top of the run's (--api-env). */
  env?: Record<string, string>;
  /** Node flags after npm start's (so they override them). */
  nodeFlags?: string[];
}

/** B over A, of the median of `figure`: throughput at least `ratio`, API CPU per request at most; no ratio: reported. */
export interface AbGoal {
  figure: 'throughput' | 'cpu';
  ratio?: number;
}

/** What a preset does beside the processes, set up once before the phases. */
export interface AbHooks {
  /** The tenants (with their credentials) each side's load uses; the run's by default. */
  tenants?: Partial<Record<Side, BenchTenant[]>>;
  /** Before a phase's warm-up, its process started; returns what undoes it after the phase. */
  phase?(side: Side, api: ApiProcess): Promise<() => Promise<void>>;
  /** Environment only known at set-up (a free port), over the variant's. */
  env?: Partial<Record<Side, Record<string, string>>>;
  /** Checked before measuring, for the report. */
  checks?: string[];
  cleanup?(): Promise<void>;
}

export interface AbPreset {
  /** One line for --help and the report. */
  title: string;
  scenario: string;
  baseline: AbVariant;
  candidate: AbVariant;
  goal: AbGoal;
  setup?(context: AbSetup): Promise<AbHooks>;
}

/** What a preset's set-up may use. */
export interface AbSetup {
  ownerUrl: string;
  secret: string;
  tenants: BenchTenant[];
  /** An API process of the run's settings (this checkout); the set-up stops it. */
  startApi(): Promise<ApiProcess>;
  log(line: string): void;
}

export interface AbResult {
  /** The preset's name and title, when the variants came from one. */
  preset?: string;
  title?: string;
  /** compiled: false for a commit from before `npm run build`, run from its sources as it was. */
  baseline: { ref?: string; commit: string; compiled?: boolean; dirty?: boolean } & AbVariant;
  candidate: { ref?: string; commit: string; compiled?: boolean; dirty?: boolean } & AbVariant;
  scenario: string;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  /** Results before presets: the candidate's API CPU per request over the baseline's, at most. */
  cpuGoal?: number;
  goal?: AbGoal;
  checks?: string[];
  baselinePhases: Measured[];
  candidatePhases: Measured[];
}

export interface AbOptions extends Measuring {
  connections: number;
  rounds: number;
  seconds: number;
  start(side: Side): Promise<ApiProcess>;
  load(api: ApiProcess, side: Side, connections: number, seconds: number): Promise<LoadResult>;
  hooks?: AbHooks;
}

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
      const undo = (await options.hooks?.phase?.(side, api)) ?? (async () => {});
      try {
        await options.load(api, side, options.connections, WARM_UP_SECONDS);
        const measured = await options.measure(api.pid, () =>
          options.load(api, side, options.connections, options.seconds),
        );
        phases[side].push(measured);
        log(
          `  ${side.padEnd(9)} ${String(measured.throughput).padStart(7)}/s  p50 ${measured.latencyMs.p50}` +
            ` p99 ${measured.latencyMs.p99} ms  API CPU ${measured.apiCpuMsPerRequest} ms/req` +
            `  peak RSS ${measured.usage.apiPeakRssMb} MB  errors ${measured.errors}  (process ${api.pid})`,
        );
      } finally {
        await undo();
      }
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

/** A side as the report names it: its commit, and what its variant sets. */
function describeSide(side: AbResult['baseline']): string {
  const commit = side.ref ? `${side.ref} = ${side.commit.slice(0, 7)}` : side.commit.slice(0, 7);
  const parts = [
    `${commit}${side.dirty ? ' + uncommitted changes' : ''}${side.compiled === false ? ', from its sources' : ''}`,
    ...Object.entries(side.env ?? {}).map(([name, value]) => `${name}=${value}`),
    ...(side.nodeFlags ?? []),
  ];
  return parts.join(' ');
}

export function abTargets(result: AbResult | { error: string }): Target[] {
  if ('error' in result) {
    return [
      {
        name: 'A/B: candidate / baseline',
        goal: 'reported',
        measured: `failed: ${result.error.slice(0, 200)}`,
        ratio: null,
        met: false,
      },
    ];
  }
  const goal = result.goal ?? { figure: 'cpu', ratio: result.cpuGoal ?? 1 };
  const side = (phases: Measured[]) => ({
    cpu: spread(phases, (m) => m.apiCpuMsPerRequest),
    throughput: spread(phases, (m) => m.throughput),
    p99: spread(phases, (m) => m.latencyMs.p99),
    rss: spread(phases, (m) => m.usage.apiPeakRssMb),
    errors: phases.reduce((sum, m) => sum + m.errors, 0),
  });
  const a = side(result.baselinePhases);
  const b = side(result.candidatePhases);
  const errors = `errors ${b.errors} vs ${a.errors}`;
  const rss = `peak RSS ${b.rss.text} vs ${a.rss.text} MB`;
  const phases = `median and range of ${result.rounds} phases each`;
  if (goal.figure === 'cpu') {
    const cpuRatio = ratio(b.cpu.median, a.cpu.median);
    const candidate = describeSide(result.candidate);
    return [
      {
        name: `A/B${result.preset ? ` ${result.preset}` : ''}: API CPU per request, candidate / baseline (${result.scenario}, ${result.connections} connections; ${candidate} vs ${describeSide(result.baseline)})`,
        goal: goal.ratio === undefined ? 'reported' : `<= ${Math.round(goal.ratio * 100)}%`,
        measured:
          `${b.cpu.text} vs ${a.cpu.text} ms/req = ${Math.round(cpuRatio * 100)}% ` +
          `(${phases}; throughput ${b.throughput.text} vs ${a.throughput.text}/s; ${rss}; ${errors})`,
        ratio: cpuRatio,
        met: goal.ratio === undefined ? null : b.errors + a.errors === 0 && cpuRatio <= goal.ratio,
      },
    ];
  }
  const throughputRatio = ratio(b.throughput.median, a.throughput.median);
  const compared = result.title
    ? `${result.title} (${describeSide(result.candidate).split(' ')[0]})`
    : `${result.scenario} throughput, ${describeSide(result.candidate)} / ${describeSide(result.baseline)}`;
  return [
    {
      name: `A/B${result.preset ? ` ${result.preset}` : ''}: ${compared}, ${result.connections} connections`,
      goal: goal.ratio === undefined ? 'reported' : `>= ${Math.round(goal.ratio * 100)}%`,
      measured:
        `${b.throughput.text} vs ${a.throughput.text}/s = ${Math.round(throughputRatio * 100)}% ` +
        `(${phases}; p99 ${b.p99.text} vs ${a.p99.text} ms; API CPU ${b.cpu.text} vs ${a.cpu.text} ms/req; ${rss}; ${errors})`,
      ratio: throughputRatio,
      met: goal.ratio === undefined ? null : b.errors + a.errors === 0 && throughputRatio >= goal.ratio,
    },
  ];
}
