// The abuse section's results (sections/abuse.ts measures them): their shape, the
// summary per attack, its targets and its report. See bench/README.md, "Abuse".
import type { Measured, Target } from './measured.ts';
import { median, ratio, round, type LatencySummary } from './stats.ts';

export interface AttackerFigures {
  /** Responses with `data`: the operation ran (whatever its errors). */
  ran: number;
  /** 429: refused on purpose, with Retry-After. */
  throttled: number;
  /** Refused before running, other than 429 (4xx without `data`). */
  refused: number;
  /** Everything else: 5xx, no answer. */
  failed: number;
  /** Error codes seen, from every response. */
  codes: Record<string, number>;
  /** Sum of `extensions.cost.actualQueryCost`, subscription events' included. */
  points: number;
  /** Sum of `extensions.cost.databaseMs`; null when no response carried it. */
  reportedDbMs: number | null;
  /** Seconds the loops slept (summed over them), as Retry-After (or a 5xx without it) told them. */
  sleptSeconds: number;
  ranLatencyMs: LatencySummary;
  /** Subscriptions: opened, refused, events received, and ended by the server once open. */
  subscriptions?: { open: number; failed: number; events: number; ended: number };
  samples: string[];
}

/** Busy backends, ms: the victims' list statements; begin, set_config and commit (anyone's); anything else. */
export interface Busy {
  list: number;
  transaction: number;
  other: number;
}

export interface AbusePhase {
  kind: 'alone' | 'attacked';
  /** The attack of an attacked phase; the attacks an alone phase is compared with. */
  attacks: string[];
  victims: Measured;
  /** Victims' failed responses by code (timeouts and resets as `no answer`). */
  victimErrors: Record<string, number>;
  /** The victims' list: mean points and `databaseMs` per response (null: not reported). */
  victimPoints: number | null;
  victimReportedDbMs: number | null;
  /**
   * Sampled from pg_stat_activity: alone, over the victims' measured seconds (`other`
   * should be 0: a check of the attribution); attacked, from the attacker's start until
   * its work drained.
   */
  busyMs: Busy;
  attacker?: AttackerFigures & {
    /** From the attacker's end until no statement of its was left and the victims were answered again. */
    drainSeconds: number;
  };
}

export interface AbuseAttackResult {
  name: string;
  title: string;
  size: number;
  query: string;
  /** Larger sizes the API refused before running them, with their codes. */
  refusedSizes: Array<{ size: number; code: string }>;
  /** Every size refused before running: the attack was not run. */
  refused?: string;
  /** `extensions.cost` of the accepted probe, and its HTTP status and first error code. */
  probe?: { status: number; code?: string; cost?: unknown; ms: number };
}

export interface AbuseResult {
  victims: number;
  victimConnections: number;
  attackerConnections: number;
  subscribers: number;
  attacker: { slug: string; products: number; productsAdded: number; loadSeconds: number };
  secondsPerPhase: number;
  rounds: number;
  sampleMs: number;
  attacks: AbuseAttackResult[];
  phases: AbusePhase[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------
// Summary, targets and report

interface AttackSummary {
  attack: AbuseAttackResult;
  alone: { throughput: number; p99: number };
  attacked: { throughput: number; p99: number };
  throughputRatio: number;
  p99Ratio: number;
  victimErrors: Record<string, number>;
  points: number;
  sampledDbMs: number;
  reportedDbMs: number | null;
  /** DB ms per point, sampled and reported, and each over the victims' list's. */
  sampledPerPoint: number;
  reportedPerPoint: number | null;
  sampledRatio: number;
  /** The target's: as the API reports it when it does for both, else sampled. */
  dbRatio: number;
  reportedRatio: number | null;
}

/**
 * The victims over every alone phase, where only they run: all their busy time per
 * request over its points is the reference of the DB-time target; what is not their list
 * statements (begin, set_config, commit, membership look-ups) is subtracted from the
 * attacker's in the attacked phases, where such statements could be anyone's.
 */
export function reference(result: AbuseResult): {
  points: number | null;
  overheadMsPerRequest: number;
  sampledPerPoint: number;
  reportedPerPoint: number | null;
} {
  const alone = result.phases.filter((p) => p.kind === 'alone');
  const requests = alone.reduce((sum, p) => sum + p.victims.requests, 0);
  const points = median(alone.flatMap((p) => (p.victimPoints === null ? [] : [p.victimPoints])));
  const reported = alone.flatMap((p) => (p.victimReportedDbMs === null ? [] : [p.victimReportedDbMs]));
  const overhead = alone.reduce((sum, p) => sum + p.busyMs.transaction + p.busyMs.other, 0);
  const list = alone.reduce((sum, p) => sum + p.busyMs.list, 0);
  return {
    points: Number.isNaN(points) ? null : points,
    overheadMsPerRequest: requests ? overhead / requests : 0,
    sampledPerPoint: requests && points ? (list + overhead) / requests / points : Number.NaN,
    reportedPerPoint: reported.length && points ? median(reported) / points : null,
  };
}

/** The attacker's sampled DB ms in an attacked phase: anything but the victims' list, less their overhead. */
function attackerDbMs(phase: AbusePhase, overheadMsPerRequest: number): number {
  const { transaction, other } = phase.busyMs;
  return Math.max(0, transaction + other - overheadMsPerRequest * phase.victims.requests);
}

export function summarizeAttack(result: AbuseResult, attack: AbuseAttackResult): AttackSummary | undefined {
  const attacked = result.phases.filter((p) => p.kind === 'attacked' && p.attacks[0] === attack.name);
  const alone = result.phases.filter((p) => p.kind === 'alone' && p.attacks.includes(attack.name));
  if (attacked.length === 0 || alone.length === 0) return undefined;
  const figures = (phases: AbusePhase[]) => ({
    throughput: round(median(phases.map((p) => p.victims.throughput)), 1),
    // A phase without one answered request has no p99: it was as slow as can be.
    p99: round(median(phases.map((p) => p.victims.latencyMs.p99 || Number.POSITIVE_INFINITY)), 2),
  });
  const victimErrors: Record<string, number> = {};
  for (const phase of attacked)
    for (const [code, n] of Object.entries(phase.victimErrors))
      victimErrors[code] = (victimErrors[code] ?? 0) + n;
  const ref = reference(result);
  const points = attacked.reduce((sum, p) => sum + p.attacker!.points, 0);
  const sampledDbMs = round(
    attacked.reduce((sum, p) => sum + attackerDbMs(p, ref.overheadMsPerRequest), 0),
    1,
  );
  const reportedDbMs = attacked.some((p) => p.attacker!.reportedDbMs !== null)
    ? round(
        attacked.reduce((sum, p) => sum + (p.attacker!.reportedDbMs ?? 0), 0),
        1,
      )
    : null;
  const perPoint = (ms: number) => (points > 0 ? ms / points : ms > 0 ? Number.POSITIVE_INFINITY : 0);
  const a = figures(alone);
  const b = figures(attacked);
  const summary: AttackSummary = {
    attack,
    alone: a,
    attacked: b,
    throughputRatio: ratio(b.throughput, a.throughput),
    p99Ratio: ratio(b.p99, a.p99),
    victimErrors,
    points,
    sampledDbMs,
    reportedDbMs,
    sampledPerPoint: perPoint(sampledDbMs),
    reportedPerPoint: reportedDbMs === null ? null : perPoint(reportedDbMs),
    sampledRatio: round(perPoint(sampledDbMs) / ref.sampledPerPoint, 1),
    dbRatio: 0,
    reportedRatio:
      reportedDbMs === null || ref.reportedPerPoint === null
        ? null
        : round(perPoint(reportedDbMs) / ref.reportedPerPoint, 1),
  };
  summary.dbRatio = summary.reportedRatio ?? summary.sampledRatio;
  return summary;
}

export const codes = (errors: Record<string, number>) =>
  Object.entries(errors)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
export const total = (errors: Record<string, number>) => Object.values(errors).reduce((a, b) => a + b, 0);
const figure = (value: number, digits = 4) =>
  Number.isFinite(value) ? String(round(value, digits)) : String(value);

export function abuseTargets(result: AbuseResult | { error: string }): Target[] {
  if ('error' in result)
    return [
      {
        name: 'abuse',
        goal: 'runs',
        measured: `failed: ${result.error.slice(0, 200)}`,
        ratio: null,
        met: false,
      },
    ];
  const ref = reference(result);
  return result.attacks.flatMap((attack): Target[] => {
    const name = (what: string) => `abuse: ${attack.name}: ${what}`;
    if (attack.refused)
      return [
        {
          name: name("DB ms per point / the list's"),
          goal: '<= 10x',
          measured: `refused before running (${attack.refused})`,
          ratio: null,
          met: true,
        },
      ];
    const s = summarizeAttack(result, attack);
    if (!s) return [];
    const errors = total(s.victimErrors);
    const reported =
      s.reportedRatio === null
        ? ''
        : `${figure(s.reportedPerPoint!)} vs ${figure(ref.reportedPerPoint!)} ms per point reported = ${s.reportedRatio}x; `;
    return [
      {
        name: name("victims' throughput attacked / alone"),
        goal: '>= 80%',
        measured: `${s.attacked.throughput}/s vs ${s.alone.throughput}/s = ${Math.round(s.throughputRatio * 100)}%`,
        ratio: s.throughputRatio,
        met: s.throughputRatio >= 0.8,
      },
      {
        name: name("victims' p99 attacked / alone"),
        goal: '<= 1.5x',
        measured: `${s.attacked.p99} ms vs ${s.alone.p99} ms = ${s.p99Ratio}x`,
        ratio: s.p99Ratio,
        met: s.p99Ratio <= 1.5,
      },
      {
        name: name("victims' errors attacked"),
        goal: '0',
        measured: errors ? `${errors} (${codes(s.victimErrors)})` : '0',
        ratio: null,
        met: errors === 0,
      },
      {
        name: name("DB ms per point / the list's"),
        goal: '<= 10x',
        measured:
          `${reported}${figure(s.sampledPerPoint)} vs ${figure(ref.sampledPerPoint)} ms per point sampled = ${s.sampledRatio}x ` +
          `(${s.sampledDbMs} ms for ${s.points} points${s.reportedRatio === null ? '; not reported by the API' : ''})`,
        ratio: s.dbRatio,
        met: s.dbRatio <= 10,
      },
    ];
  });
}

/** The section of the report (bench/lib/report.ts places it). */
export function renderAbuse(result: AbuseResult | { error: string }): string[] {
  const out = ['\n## Abuse\n'];
  if ('error' in result) return [...out, `The section failed: ${result.error}`];
  const ref = reference(result);
  out.push(
    `One attacker tenant (\`${result.attacker.slug}\`, ${result.attacker.products.toLocaleString('en-US')} products) loops each operation below on ${result.attackerConnections} connections, obeying Retry-After, ` +
      `while ${result.victims} victim tenants run the \`list\` scenario on ${result.victimConnections}. Phases of ${result.secondsPerPhase} s, per attack A B B A (${result.rounds} attacked phases; ` +
      `one alone phase between two attacks serves both); medians over the phases, errors and points summed over the attacked ones. ` +
      `Database time as the API reports it (\`extensions.cost.databaseMs\`, in brackets, when it does; the target is on it when the API reports it for both the attacker and the victims) ` +
      `and sampled from pg_stat_activity every ${result.sampleMs} ms: in the alone phases every busy backend is the victims'; attacked, the victims' list statements are theirs, any other statement the attacker's (from its start until its work drained), ` +
      `less the victims' own statements other than their list (begin, set_config, commit, membership look-ups) as measured alone, ${figure(ref.overheadMsPerRequest)} ms a request. ` +
      `Reference: the victims' list, ${figure(ref.sampledPerPoint)} DB ms per point${ref.reportedPerPoint !== null ? ` (${figure(ref.reportedPerPoint)})` : ''}, ${ref.points ?? '–'} points a request.`,
  );
  for (const note of result.notes) out.push(`\n> ${note}`);
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  const bracket = (value: number | null, unit = '') => (value === null ? '' : ` (${value}${unit})`);
  const rows = result.attacks.map((attack) => {
    if (attack.refused)
      return [attack.name, `refused before running: ${attack.refused}`, '', '', '', '', 'met'];
    const s = summarizeAttack(result, attack);
    if (!s) return [attack.name, 'not measured', '', '', '', '', ''];
    const errors = total(s.victimErrors);
    return [
      `${attack.name} (${attack.size})`,
      `${s.attacked.throughput} / ${s.alone.throughput} = ${Math.round(s.throughputRatio * 100)}% ${verdict(s.throughputRatio >= 0.8)}`,
      `${s.attacked.p99} / ${s.alone.p99} = ${s.p99Ratio}x ${verdict(s.p99Ratio <= 1.5)}`,
      `${errors ? codes(s.victimErrors) : 0} ${verdict(errors === 0)}`,
      String(s.points),
      `${s.sampledDbMs}${bracket(s.reportedDbMs)}`,
      `${s.sampledRatio}x${bracket(s.reportedRatio, 'x')} ${verdict(s.dbRatio <= 10)}`,
    ];
  });
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  out.push(
    '',
    "| attack (size) | victims' req/s attacked / alone (≥ 80%) | victims' p99 ms attacked / alone (≤ 1.5x) | victims' errors (0) | attacker's points | attacker's DB ms | DB ms per point / the list's (≤ 10x) |",
    '| --- | --- | --- | --- | ---: | ---: | --- |',
    ...rows.map(line),
    '',
    ...result.attacks.map(
      (attack) =>
        `- \`${attack.name}\`: ${attack.title}${attack.refusedSizes.length ? `; refused before running at ${attack.refusedSizes.map((r) => `${r.size} (${r.code})`).join(', ')}` : ''}` +
        `${attack.probe ? `; first request: HTTP ${attack.probe.status}${attack.probe.code ? ` ${attack.probe.code}` : ''} in ${attack.probe.ms} ms, \`${JSON.stringify(attack.probe.cost)}\`` : ''}`,
    ),
    '',
    '<details><summary>Phases</summary>',
    '',
    "| # | phase | victims req/s | p50 ms | p99 ms | victims' errors | attacker ran / throttled / refused / failed | attacker's points (DB ms reported) | DB ms: list / begin-commit / other | drain s |",
    '| ---: | --- | ---: | ---: | ---: | --- | --- | ---: | --- | ---: |',
    ...result.phases.map((p, i) => {
      const a = p.attacker;
      return line([
        i + 1,
        p.kind === 'alone' ? `alone (${p.attacks.join(', ')})` : p.attacks[0]!,
        p.victims.throughput,
        p.victims.latencyMs.p50,
        p.victims.latencyMs.p99,
        codes(p.victimErrors) || 0,
        a
          ? `${a.ran} / ${a.throttled} / ${a.refused} / ${a.failed}${Object.keys(a.codes).length ? ` (${codes(a.codes)})` : ''}`
          : '',
        a ? `${a.points}${bracket(a.reportedDbMs, ' ms')}` : '',
        `${p.busyMs.list} / ${p.busyMs.transaction} / ${p.busyMs.other}`,
        a?.drainSeconds ?? '',
      ]);
    }),
    '</details>',
  );
  return out;
}
