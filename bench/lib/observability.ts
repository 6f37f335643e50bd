// The results of the former observability section (the list with metrics, with tracing,
// with neither), kept so that committed results still render. The A/B presets metrics-on
// and tracing-on measure the same now (lib/ab-presets.ts).
import type { Measured, Target } from './measured.ts';
import { median, round } from './stats.ts';

export const VARIANTS = ['off', 'metrics', 'tracing'] as const;
export type Variant = (typeof VARIANTS)[number];

export const OBSERVABILITY_GOALS = { metrics: 0.97, tracing: 0.85 } as const;

export interface VariantResult {
  phases: Measured[];
  /** MB after start-up and a full GC. */
  memory: { rssMb: number; heapUsedMb: number } | null;
  /** Scrapes of /metrics during the phases (metrics only). */
  scrapes?: number;
}

export interface ObservabilityResult {
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  variants: Record<Variant, VariantResult>;
}

const medianOf = (phases: Measured[], pick: (m: Measured) => number | null | undefined) => {
  const values = phases.map(pick).filter((value): value is number => typeof value === 'number');
  return values.length > 0 ? round(median(values), 2) : Number.NaN;
};

export function observabilityTargets(result: ObservabilityResult | { error: string }): Target[] {
  const name = (variant: 'metrics' | 'tracing') =>
    `observability: list throughput with ${variant === 'metrics' ? 'metrics (scraped every second)' : 'tracing to an in-memory exporter'} / off`;
  if ('error' in result) {
    return (['metrics', 'tracing'] as const).map((variant) => ({
      name: name(variant),
      goal: `>= ${OBSERVABILITY_GOALS[variant] * 100}%`,
      measured: `failed: ${result.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    }));
  }
  const off = result.variants.off;
  const offThroughput = medianOf(off.phases, (m) => m.throughput);
  const targets: Target[] = (['metrics', 'tracing'] as const).map((variant) => {
    const on = result.variants[variant];
    const throughput = medianOf(on.phases, (m) => m.throughput);
    const ratio = throughput / offThroughput;
    const errors = [...on.phases, ...off.phases].reduce((sum, m) => sum + m.errors, 0);
    return {
      name: `${name(variant)}, ${result.connections} connections`,
      goal: `>= ${OBSERVABILITY_GOALS[variant] * 100}%`,
      measured:
        `${throughput}/s vs ${offThroughput}/s = ${Math.round(ratio * 100)}% (phases: ${on.phases.map((m) => m.throughput).join(', ')} vs ${off.phases.map((m) => m.throughput).join(', ')}; ` +
        `p99 ${medianOf(on.phases, (m) => m.latencyMs.p99)} vs ${medianOf(off.phases, (m) => m.latencyMs.p99)} ms; API CPU ${medianOf(on.phases, (m) => m.apiCpuMsPerRequest)} vs ${medianOf(off.phases, (m) => m.apiCpuMsPerRequest)} ms/req` +
        `${on.scrapes !== undefined ? `; ${on.scrapes} scrapes` : ''})${errors > 0 ? `; errors ${errors}` : ''}`,
      ratio,
      met: ratio >= OBSERVABILITY_GOALS[variant] && errors === 0,
    };
  });
  const memory = (variant: Variant) => result.variants[variant].memory;
  targets.push({
    name: 'observability: memory after start-up and GC, tracing off (off) / metrics / tracing',
    goal: 'off loads no OpenTelemetry (test/observability-tracing.test.ts)',
    measured: VARIANTS.map(
      (variant) => `${variant} ${memory(variant)?.rssMb} MB RSS, ${memory(variant)?.heapUsedMb} MB heap`,
    ).join('; '),
    ratio: null,
    met: null,
  });
  return targets;
}
