// The results of the former accountability section (audit trail on/off, API keys vs
// tokens), kept so that committed results still render. The A/B presets audit-off and
// api-keys measure the same now (lib/ab-presets.ts).
import type { Measured, Target } from './measured.ts';
import { ratio, spread, spreadRange, type Spread } from './stats.ts';

// ---------------------------------------------------------------------------------------
// Results

export interface AuditPhase {
  /** `with`: the trigger enabled, as shipped; `without`: disabled for this phase. */
  kind: 'with' | 'without';
  measured: Measured;
  /** Rows of the section's tenants added over the phase (requests still in flight at its end included). */
  productsAdded: number;
  /** app_public.audit_events rows (products, insert) of those tenants added over the phase. */
  eventsAdded: number;
}

export interface KeyPhase {
  /** `token`: the member's JWT; `key`: the tenant's API key (role member). */
  kind: 'token' | 'key';
  measured: Measured;
}

export interface AuditResult {
  trigger: string;
  table: string;
  phases: AuditPhase[];
  /** The trigger's state after the section (pg_trigger.tgenabled = 'O'). */
  restored: boolean;
}

export interface KeysResult {
  keys: number;
  role: string;
  /** How long creating the keys through createApiKey took, s. */
  createSeconds: number;
  /** What was checked before measuring. */
  checks: string[];
  phases: KeyPhase[];
}

export interface AccountabilityResult {
  tenants: number;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  /** API_KEY_CACHE_SECONDS of the API process: how long a verified key is trusted. */
  apiKeyCacheSeconds: number;
  audit: AuditResult | { error: string };
  apiKeys: KeysResult | { error: string };
  notes: string[];
}

export interface VariantFigures {
  phases: number;
  throughput: Spread;
  p50: Spread;
  p99: Spread;
  apiCpuMsPerRequest: Spread;
  dbCpuMsPerRequest: Spread;
  /** PostgreSQL's CPU, percent of one core. */
  dbCpuPercent: Spread;
  errors: number;
}

function figures(phases: Measured[]): VariantFigures {
  return {
    phases: phases.length,
    throughput: spread(phases.map((m) => m.throughput)),
    p50: spread(phases.map((m) => m.latencyMs.p50)),
    p99: spread(phases.map((m) => m.latencyMs.p99)),
    apiCpuMsPerRequest: spread(phases.map((m) => m.apiCpuMsPerRequest)),
    dbCpuMsPerRequest: spread(phases.map((m) => m.dbCpuMsPerRequest)),
    dbCpuPercent: spread(phases.map((m) => m.usage.dbCpuPercent)),
    errors: phases.reduce((sum, m) => sum + m.errors, 0),
  };
}

export interface AuditSummary {
  with: VariantFigures;
  without: VariantFigures;
  /** Median throughput with the trigger / without it. */
  throughputRatio: number;
  /** Events written in the phases with the trigger, and the products those phases added. */
  eventsWith: number;
  productsWith: number;
  /** Events written in the phases without the trigger (0 when disabling worked). */
  eventsWithout: number;
  productsWithout: number;
  /** Every product of a phase with the trigger has its event, and no phase without has any. */
  eventsChecked: boolean;
}

export function auditSummary(audit: AuditResult): AuditSummary {
  const of = (kind: AuditPhase['kind']) => audit.phases.filter((phase) => phase.kind === kind);
  const sum = (phases: AuditPhase[], field: 'productsAdded' | 'eventsAdded') =>
    phases.reduce((total, phase) => total + phase[field], 0);
  const withTrigger = figures(of('with').map((phase) => phase.measured));
  const without = figures(of('without').map((phase) => phase.measured));
  return {
    with: withTrigger,
    without,
    throughputRatio: ratio(withTrigger.throughput.median, without.throughput.median),
    eventsWith: sum(of('with'), 'eventsAdded'),
    productsWith: sum(of('with'), 'productsAdded'),
    eventsWithout: sum(of('without'), 'eventsAdded'),
    productsWithout: sum(of('without'), 'productsAdded'),
    eventsChecked:
      of('with').every(
        (phase) =>
          phase.productsAdded > 0 &&
          phase.eventsAdded === phase.productsAdded &&
          phase.productsAdded >= phase.measured.requests,
      ) &&
      of('without').every(
        (phase) => phase.eventsAdded === 0 && phase.productsAdded >= phase.measured.requests,
      ),
  };
}

export interface KeysSummary {
  token: VariantFigures;
  key: VariantFigures;
  /** Median throughput with keys / with tokens. */
  throughputRatio: number;
}

export function keysSummary(keys: KeysResult): KeysSummary {
  const of = (kind: KeyPhase['kind']) =>
    figures(keys.phases.filter((phase) => phase.kind === kind).map((phase) => phase.measured));
  const token = of('token');
  const key = of('key');
  return { token, key, throughputRatio: ratio(key.throughput.median, token.throughput.median) };
}

export function accountabilityTargets(result: AccountabilityResult | { error: string }): Target[] {
  const auditName = (c: number | string) =>
    `audit trail: createProduct throughput with / without the audit trigger, ${c} connections`;
  const keysName = (c: number | string) =>
    `API keys: list throughput with a key / with the member's token, ${c} connections`;
  if ('error' in result) {
    const failed = `failed: ${result.error.slice(0, 200)}`;
    return [
      { name: auditName('–'), goal: '>= 75%', measured: failed, ratio: null, met: false },
      { name: keysName('–'), goal: '>= 95%', measured: failed, ratio: null, met: false },
    ];
  }
  const targets: Target[] = [];
  const c = result.connections;
  if ('error' in result.audit) {
    targets.push({
      name: auditName(c),
      goal: '>= 75%',
      measured: `failed: ${result.audit.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    });
  } else {
    const s = auditSummary(result.audit);
    const errors = s.with.errors + s.without.errors;
    const events = s.eventsChecked
      ? `${s.eventsWith} audit events for ${s.productsWith} products created with the trigger, ${s.eventsWithout} without`
      : `**audit events do not match**: ${s.eventsWith} events for ${s.productsWith} products with the trigger, ${s.eventsWithout} for ${s.productsWithout} without`;
    targets.push({
      name: auditName(c),
      goal: '>= 75%',
      measured:
        `${s.with.throughput.median}/s vs ${s.without.throughput.median}/s = ${Math.round(s.throughputRatio * 100)}% ` +
        `(phases: with ${spreadRange(s.with.throughput, '/s')}, without ${spreadRange(s.without.throughput, '/s')}; ` +
        `p99 ${s.with.p99.median} vs ${s.without.p99.median} ms; API CPU ${s.with.apiCpuMsPerRequest.median} vs ${s.without.apiCpuMsPerRequest.median} ms/req; ` +
        `PostgreSQL CPU ${s.with.dbCpuMsPerRequest.median} vs ${s.without.dbCpuMsPerRequest.median} ms/req; ${events})` +
        `${errors > 0 ? `; errors ${errors}` : ''}${result.audit.restored ? '' : '; **the trigger was not re-enabled**'}`,
      ratio: s.throughputRatio,
      met: s.throughputRatio >= 0.75 && errors === 0 && s.eventsChecked && result.audit.restored,
    });
  }
  if ('error' in result.apiKeys) {
    targets.push({
      name: keysName(c),
      goal: '>= 95%',
      measured: `failed: ${result.apiKeys.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    });
  } else {
    const s = keysSummary(result.apiKeys);
    const errors = s.key.errors + s.token.errors;
    targets.push({
      name: keysName(c),
      goal: '>= 95%',
      measured:
        `${s.key.throughput.median}/s vs ${s.token.throughput.median}/s = ${Math.round(s.throughputRatio * 100)}% ` +
        `(phases: key ${spreadRange(s.key.throughput, '/s')}, token ${spreadRange(s.token.throughput, '/s')}; ` +
        `p99 ${s.key.p99.median} vs ${s.token.p99.median} ms; API CPU ${s.key.apiCpuMsPerRequest.median} vs ${s.token.apiCpuMsPerRequest.median} ms/req; ` +
        `${result.apiKeys.keys} tenants, each with its own key)${errors > 0 ? `; errors ${errors}` : ''}`,
      ratio: s.throughputRatio,
      met: s.throughputRatio >= 0.95 && errors === 0,
    });
  }
  return targets;
}
