// The observability section: what metrics and tracing cost the list scenario.
//
//   off       no METRICS_PORT, no tracing: nothing of src/observability/ loaded but
//             tracing-config.ts (what `npm start` runs without configuration);
//   metrics   METRICS_PORT set: prom-client, the request observer, the per-tenant usage,
//             and a scrape of /metrics every second, as Prometheus would (more often);
//   tracing   OpenTelemetry's SDK with the http, express and pg instrumentations and the
//             redaction, exporting through a BatchSpanProcessor to an in-memory exporter
//             that counts the spans and drops them (no network, so only the API's own cost).
//
// Three API processes, one per variant, started together; phases rotate off, metrics,
// tracing (`rounds` times) so drift shows as ranges, and ratios compare medians. Memory
// is each process's process.memoryUsage() after start-up and a full GC.
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import type { BenchTenant } from './scenarios.ts';
import { median, round } from './stats.ts';

export const VARIANTS = ['off', 'metrics', 'tracing'] as const;
export type Variant = (typeof VARIANTS)[number];

export const OBSERVABILITY_GOALS = { metrics: 0.97, tracing: 0.85 } as const;
const SCRAPE_INTERVAL_MS = 1000;

export interface ObservabilitySectionOptions extends Measuring {
  tenants: BenchTenant[];
  connections: number;
  seconds: number;
  rounds: number;
  /** Starts the API process of a variant; `metricsUrl` is set for `metrics`. */
  startApi(variant: Variant): Promise<{ api: ApiProcess; metricsUrl?: string }>;
  load(api: ApiProcess, tenants: BenchTenant[], connections: number, seconds: number): Promise<LoadResult>;
}

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

const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

export async function runObservability(options: ObservabilitySectionOptions): Promise<ObservabilityResult> {
  const { log } = options;
  const started: Array<{ variant: Variant; api: ApiProcess; metricsUrl?: string }> = [];
  try {
    for (const variant of VARIANTS) started.push({ variant, ...(await options.startApi(variant)) });
    const variants = {} as Record<Variant, VariantResult>;
    for (const { variant, api } of started) {
      const { afterGc, usage } = await api.memory();
      const memory = afterGc ?? usage;
      variants[variant] = {
        phases: [],
        memory: { rssMb: mb(memory.rss), heapUsedMb: mb(memory.heapUsed) },
        ...(variant === 'metrics' && { scrapes: 0 }),
      };
      log(
        `  ${variant.padEnd(8)} API process ${api.pid}: ${variants[variant].memory!.rssMb} MB RSS, ${variants[variant].memory!.heapUsedMb} MB heap after GC`,
      );
      await options.load(api, options.tenants, options.connections, 2);
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const { variant, api, metricsUrl } of started) {
        let scraping: NodeJS.Timeout | undefined;
        if (metricsUrl) {
          scraping = setInterval(() => {
            fetch(`${metricsUrl}/metrics`)
              .then((response) => response.text())
              .then(
                () => variants.metrics.scrapes!++,
                () => {},
              );
          }, SCRAPE_INTERVAL_MS);
        }
        try {
          const measured = await options.measure(api.pid, () =>
            options.load(api, options.tenants, options.connections, options.seconds),
          );
          variants[variant].phases.push(measured);
          log(
            `  ${variant.padEnd(8)} ${measured.throughput}/s  p50 ${measured.latencyMs.p50} p99 ${measured.latencyMs.p99} ms  API CPU ${measured.apiCpuMsPerRequest} ms/req  errors ${measured.errors}`,
          );
        } finally {
          clearInterval(scraping);
        }
      }
    }
    return {
      connections: options.connections,
      secondsPerPhase: options.seconds,
      rounds: options.rounds,
      variants,
    };
  } finally {
    for (const { api } of started) await api.stop();
  }
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
