// The targets, evaluated from a run's results: each with its goal, the
// measured figure and whether it was met.
import { accountabilityTargets } from './accountability.ts';
import { noisyTargets } from './noisy-neighbour.ts';
import { observabilityTargets } from './observability.ts';
import { portabilityTargets } from './portability.ts';
import { realtimeTargets } from './realtime.ts';
import { scalingTargets } from './scaling.ts';
import { abTargets } from './ab.ts';
import { abuseTargets } from './abuse.ts';
import type { BenchResults, ScenarioPoint } from './results.ts';
import type { Target } from './measured.ts';
import { ratio, round } from './stats.ts';

/** The API's throughput against the better of its two ceilings (node-postgres, pgbench). */
function againstCeiling(name: string, point: ScenarioPoint): Target {
  const ceiling = Math.max(point.ceiling.throughput, point.pgbench?.throughput ?? 0);
  const share = ratio(point.api.throughput, ceiling);
  const pgbench = point.pgbench ? `, pgbench ${point.pgbench.throughput}/s` : '';
  return {
    name,
    goal: '>= 50% of the ceiling',
    measured:
      `${point.api.throughput}/s vs ${ceiling}/s ` +
      `(node-postgres ${point.ceiling.throughput}/s${pgbench}) = ${Math.round(share * 100)}%`,
    ratio: share,
    met: share >= 0.5,
  };
}

function rlsTarget(results: BenchResults, rls: NonNullable<BenchResults['rls']>): Target {
  const saturated = rls.points.find((point) => point.connections === 16)!;
  const single = rls.points.find((point) => point.connections === 1)!;
  const cost = ratio(saturated.explicitWhere.throughput, saturated.rls.throughput);
  const { checks } = rls.explainRls;
  return {
    name: `RLS cost at ${results.data.products} rows: explicit-WHERE throughput / RLS throughput, 16 connections`,
    goal: '<= 1.05x',
    measured:
      `${saturated.rls.throughput}/s under RLS vs ${saturated.explicitWhere.throughput}/s with WHERE = ${cost}x; ` +
      `one connection p50 ${single.rls.latencyMs.p50} vs ${single.explicitWhere.latencyMs.p50} ms; ` +
      `EXPLAIN: index scans only ${checks.indexScansOnly}, helpers once per statement ${checks.helpersOncePerStatement}`,
    ratio: cost,
    met: cost <= 1.05 && checks.indexScansOnly && checks.helpersOncePerStatement,
  };
}

function scaleTarget(results: BenchResults, scale: NonNullable<BenchResults['scale']>): Target {
  const point = scale.points.find((p) => p.connections === 16) ?? scale.points[0]!;
  const growth = ratio(point.large.latencyMs.p50, point.small.latencyMs.p50);
  return {
    name: `scale: list p50 at ${results.data.products} vs ${scale.small.products} products, ${point.connections} connections`,
    goal: '<= 1.2x',
    measured: `${point.large.latencyMs.p50} ms vs ${point.small.latencyMs.p50} ms = ${growth}x`,
    ratio: growth,
    met: growth <= 1.2,
  };
}

function coldStartTarget(cold: NonNullable<BenchResults['startup']['coldStart']>): Target {
  const name = 'cold npm start to first answered query';
  if ('error' in cold) {
    return {
      name,
      goal: '<= 10 s',
      measured: `failed: ${cold.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    };
  }
  return {
    name,
    goal: '<= 10 s',
    measured: `${round(cold.firstAnswerMs / 1000, 2)} s`,
    ratio: ratio(cold.firstAnswerMs, 10_000),
    met: cold.firstAnswerMs <= 10_000,
  };
}

export function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const at = (name: string, connections: number) =>
    results.scenarios.find((s) => s.name === name)?.points.find((p) => p.connections === connections);
  const list16 = at('list', 16);
  if (list16) {
    targets.push(againstCeiling('list, 16 connections: throughput vs database ceiling', list16));
    const p99 = list16.api.latencyMs.p99;
    targets.push({
      name: 'list, 16 connections: p99 latency',
      goal: '< 20 ms',
      measured: `${p99} ms`,
      ratio: ratio(p99, 20),
      met: p99 < 20,
    });
  }
  const create16 = at('create', 16);
  if (create16) {
    const name = 'createProduct, 16 connections: throughput vs the same insert through create_product';
    targets.push(againstCeiling(name, create16));
  }
  if (results.rls) targets.push(rlsTarget(results, results.rls));
  if (results.scale) targets.push(scaleTarget(results, results.scale));
  const rss = results.memory.apiPeakRssMb ?? results.memory.apiPeakRssMbDuringLoad;
  if (rss !== null) {
    const summed = results.settings.apiProcesses > 1 ? 'es, summed' : '';
    targets.push({
      name: 'API peak RSS under load',
      goal: '<= 200 MB',
      measured: `${rss} MB (VmHWM of the API process${summed})`,
      ratio: ratio(rss, 200),
      met: rss <= 200,
    });
  }
  if (results.noisy) targets.push(...noisyTargets(results.noisy));
  if (results.abuse) targets.push(...abuseTargets(results.abuse));
  if (results.accountability) targets.push(...accountabilityTargets(results.accountability));
  if (results.realtime) targets.push(...realtimeTargets(results.realtime));
  if (results.portability) targets.push(...portabilityTargets(results.portability));
  if (results.observability) targets.push(...observabilityTargets(results.observability));
  if (results.scaling) targets.push(...scalingTargets(results.scaling));
  if (results.ab) targets.push(...abTargets(results.ab));
  if (results.startup.coldStart) targets.push(coldStartTarget(results.startup.coldStart));
  return targets;
}
