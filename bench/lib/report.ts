// bench/results/<date>.md: the run's figures for people, written from the JSON.
import { renderPortability } from './portability.ts';
import {
  auditSummary,
  keysSummary,
  type AccountabilityResult,
  type VariantFigures,
} from './accountability.ts';
import { noisySummary, type NoisyResult } from './noisy-neighbour.ts';
import { renderRealtime } from './realtime.ts';
import { renderAbuse } from './abuse.ts';
import type { BenchResults, MemoryFigures } from './results.ts';
import type { Measured } from './measured.ts';
import type { Spread } from './stats.ts';

const fmt = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined || Number.isNaN(value)
    ? '–'
    : value.toLocaleString('en-US', { maximumFractionDigits: digits });
const pct = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : '–');

// Columns whose cells are all figures are right-aligned.
function table(header: string[], rows: Array<Array<string | number>>): string {
  const numeric = header.map(
    (_, i) => i > 0 && rows.every((row) => /^[-\d.,–x%\s]*$/.test(String(row[i] ?? ''))),
  );
  return [
    `| ${header.join(' | ')} |`,
    `| ${numeric.map((right) => (right ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

// Percent of one core: the API process, PostgreSQL, the load generator, everything else.
/** One line of the scale table: the same point on the large and the small database. */
function scaleRow(label: string, point: { large: Measured; small: Measured }): string[] {
  const { large, small } = point;
  return [
    label,
    fmt(large.throughput, 0),
    fmt(large.latencyMs.p50, 2),
    fmt(large.latencyMs.p99, 2),
    fmt(small.throughput, 0),
    fmt(small.latencyMs.p50, 2),
    fmt(small.latencyMs.p99, 2),
    `${fmt(large.latencyMs.p50 / small.latencyMs.p50, 2)}x`,
  ];
}

/** The columns of one measured phase, after the phase's own: the headers and the cells. */
const PHASE_HEADERS = ['req/s', 'p50', 'p99', 'errors', 'API CPU ms/req', 'PG CPU ms/req', 'CPU % of a core'];
function phaseCells(m: Measured): Array<string | number> {
  return [
    fmt(m.throughput, 0),
    fmt(m.latencyMs.p50, 2),
    fmt(m.latencyMs.p99, 2),
    m.errors,
    fmt(m.apiCpuMsPerRequest, 2),
    fmt(m.dbCpuMsPerRequest, 2),
    cpu(m),
  ];
}

function cpu(m: Measured): string {
  return [
    m.usage.apiCpuPercent !== null ? `API ${fmt(m.usage.apiCpuPercent, 0)}` : '',
    m.usage.dbCpuPercent !== null ? `PG ${fmt(m.usage.dbCpuPercent, 0)}` : '',
    `gen ${fmt(m.usage.generatorCpuPercent, 0)}`,
    `other ${fmt(m.usage.otherCpuPercent, 0)}`,
  ]
    .filter(Boolean)
    .join(' / ');
}

export function renderMarkdown(results: BenchResults, chartFile: string | undefined): string {
  const out: string[] = [];
  const { machine, data, settings } = results;
  out.push(`# tenantgraph benchmark, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  out.push('');
  out.push(
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB, ${machine.os}; Node ${machine.node}; ${machine.postgres}` +
      `${machine.pgbench ? `; ${machine.pgbench}` : ''}. Load average before ${machine.loadAverageBefore.join(' ')}, after ${machine.loadAverageAfter.join(' ')}.`,
  );
  out.push(
    `Data: ${fmt(data.tenants, 0)} tenants, ${fmt(data.products, 0)} products (${data.productsPerTenant} per tenant, ${data.categoriesPerTenant} categories each) in \`${data.database}\`, loaded in ${fmt(data.loadSeconds)} s.`,
  );
  out.push(
    `Run: ${settings.secondsPerPoint} s per point, ${results.durationSeconds} s in all; API: one ${settings.apiProcesses > 1 ? `cluster of ${settings.apiProcesses} processes` : 'process'}, NODE_ENV=production, pool ${settings.apiPoolSize}` +
      `${
        Object.keys(settings.apiEnv).length
          ? `, ${Object.entries(settings.apiEnv)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : ''
      }` +
      `${(settings.apiNodeOptions ?? []).length ? `, node ${settings.apiNodeOptions.join(' ')}` : ''}. ` +
      "Every request is for a tenant picked at random, with that tenant's own JWT, verified by the server. API, PostgreSQL and the load generator share the machine.",
  );
  for (const note of settings.notes) out.push(`\n> ${note}`);

  out.push('\n## Targets\n');
  out.push(
    table(
      ['target', 'goal', 'measured', 'met'],
      results.targets.map((t) => [
        t.name,
        t.goal,
        t.measured,
        t.met === null ? '–' : t.met ? 'yes' : '**no**',
      ]),
    ),
  );

  if (results.scenarios.length > 0) {
    out.push('\n## Throughput and latency\n');
    out.push(
      '"pg" is the API\'s own transaction (begin; the same set_config; the same SQL; commit) replayed over the raw `pg` driver at the same concurrency; "pgbench" is the same transaction from pgbench. Latencies in ms. "API/ceiling" divides the API\'s throughput by the better of the two.',
    );
    if (chartFile) out.push(`\n![throughput and p99 against concurrency](${chartFile})`);
    for (const scenario of results.scenarios) {
      out.push(`\n### ${scenario.name}: ${scenario.title}\n`);
      out.push(
        table(
          [
            'connections',
            'API req/s',
            'p50',
            'p95',
            'p99',
            'errors',
            'CPU % of a core',
            'API CPU ms/req',
            'pg req/s',
            'pg p50',
            'pg p99',
            'pgbench req/s',
            'pgbench p50',
            'pgbench p99',
            'API/ceiling',
          ],
          scenario.points.map((p) => [
            p.connections,
            fmt(p.api.throughput, 0),
            fmt(p.api.latencyMs.p50, 2),
            fmt(p.api.latencyMs.p95, 2),
            fmt(p.api.latencyMs.p99, 2),
            p.api.errors + p.ceiling.errors + (p.pgbench?.errors ?? 0),
            cpu(p.api),
            fmt(p.api.apiCpuMsPerRequest, 2),
            fmt(p.ceiling.throughput, 0),
            fmt(p.ceiling.latencyMs.p50, 2),
            fmt(p.ceiling.latencyMs.p99, 2),
            fmt(p.pgbench?.throughput, 0),
            fmt(p.pgbench?.latencyMs.p50, 2),
            fmt(p.pgbench?.latencyMs.p99, 2),
            pct(p.api.throughput / Math.max(p.ceiling.throughput, p.pgbench?.throughput ?? 0)),
          ]),
        ),
      );
      const others = scenario.points.map((p) => p.api.usage.otherCpuPercent);
      if (Math.max(...others) > 20)
        out.push(
          `\nOther processes used up to ${fmt(Math.max(...others), 0)}% of a core during the API points: figures are noisier than usual.`,
        );
      const errors = [
        ...new Set(
          scenario.points.flatMap((p) => [
            ...p.api.errorSamples,
            ...p.ceiling.errorSamples,
            ...(p.pgbench?.errorSamples ?? []),
          ]),
        ),
      ];
      if (errors.length)
        out.push(`\nErrors: ${errors.map((e) => `\`${e.replace(/`/g, "'").slice(0, 200)}\``).join('; ')}`);
      if (scenario.apiTransactions > 1)
        out.push(
          `\nThe API runs this request as ${scenario.apiTransactions} transactions (one per SQL statement, each with its own begin/set_config/commit); the ceiling runs the statements in one.`,
        );
      out.push(
        `\n<details><summary>GraphQL and SQL</summary>\n\n\`\`\`graphql\n${scenario.query}\n\`\`\`\n\n\`\`\`sql\n${scenario.sql.join('\n\n')}\n\`\`\`\n</details>`,
      );
    }
  }

  if (results.rls) {
    const r = results.rls;
    out.push('\n## RLS cost\n');
    out.push(
      'The list query as the API sends it, under RLS as `app_user`, against the same query with `WHERE tenant_id = $1` added, run as the owner (BYPASSRLS, so no policy applies). Same transaction shape, same settings, raw `pg` driver.\n',
    );
    out.push(
      table(
        [
          'connections',
          'RLS req/s',
          'RLS p50',
          'RLS p99',
          'WHERE req/s',
          'WHERE p50',
          'WHERE p99',
          'cost (WHERE/RLS throughput)',
        ],
        r.points.map((p) => [
          p.connections,
          fmt(p.rls.throughput, 0),
          fmt(p.rls.latencyMs.p50, 2),
          fmt(p.rls.latencyMs.p99, 2),
          fmt(p.explicitWhere.throughput, 0),
          fmt(p.explicitWhere.latencyMs.p50, 2),
          fmt(p.explicitWhere.latencyMs.p99, 2),
          `${fmt(p.explicitWhere.throughput / p.rls.throughput, 3)}x`,
        ]),
      ),
    );
    out.push(
      `\nEXPLAIN ANALYZE (median of ${r.explainRls.runs}, random tenants): RLS planning ${r.explainRls.planningMs.median} ms + execution ${r.explainRls.executionMs.median} ms; ` +
        `WHERE planning ${r.explainExplicit.planningMs.median} ms + execution ${r.explainExplicit.executionMs.median} ms. ` +
        `Scans under RLS: ${r.explainRls.scans.map((s) => `${s.relation} by ${s.node}${s.index ? ` (${s.index})` : ''}`).join(', ')}. ` +
        `Policy helpers: ${r.explainRls.initPlans.map((i) => `${i.name} ×${i.loops}`).join(', ') || 'none'}${r.explainRls.subPlanLoops.length ? `; SubPlans ${r.explainRls.subPlanLoops.join(', ')}` : ''}. ` +
        `Index scans only: ${r.explainRls.checks.indexScansOnly ? 'yes' : '**no**'}; helpers once per statement: ${r.explainRls.checks.helpersOncePerStatement ? 'yes' : '**no**'}.`,
    );
    out.push(
      `\n<details><summary>Plan under RLS</summary>\n\n\`\`\`\n${r.explainRls.plan}\n\`\`\`\n</details>`,
    );
    out.push(
      `\n<details><summary>Plan with WHERE, as the owner</summary>\n\n\`\`\`\n${r.explainExplicit.plan}\n\`\`\`\n</details>`,
    );
  }

  if (results.scale) {
    const s = results.scale;
    out.push('\n## Scale\n');
    out.push(
      `The list scenario on ${fmt(data.tenants, 0)} tenants (${fmt(data.products, 0)} products) and on ${fmt(s.small.tenants, 0)} tenants (${fmt(s.small.products, 0)} products), measured back to back.\n`,
    );
    out.push(
      table(
        [
          'connections',
          'large req/s',
          'large p50',
          'large p99',
          'small req/s',
          'small p50',
          'small p99',
          'p50 large/small',
        ],
        [
          ...s.points.map((p) => scaleRow(`${p.connections} (API)`, p)),
          ...s.ceiling.map((p) => scaleRow(`${p.connections} (pg)`, p)),
        ],
      ),
    );
  }

  if (results.breakdown || results.profile) out.push('\n## Where the time goes\n');
  if (results.breakdown) {
    const b = results.breakdown;
    out.push(
      `One list request on one connection: API p50 ${b.apiListP50} ms (mean ${b.apiListMean}); the same transaction over raw pg p50 ${b.ceilingListP50} ms. The API process spent ${fmt(b.apiCpuMsPerRequest, 2)} ms of CPU per request.\n`,
    );
    out.push(
      table(
        ['part', 'ms', 'share of API p50', 'how'],
        b.rows.map((row) => [row.part, fmt(row.ms, 3), pct(row.ms / b.apiListP50), row.how]),
      ),
    );
  }
  if (results.profile) {
    const p = results.profile;
    out.push(
      `\nCPU profile of the API process under the list scenario at ${p.connections} connections (${fmt(p.throughput, 0)} req/s): busy ${fmt(p.busyMs, 0)} ms of ${fmt(p.wallMs, 0)} ms; self time by layer:\n`,
    );
    out.push(
      table(
        ['layer', 'ms', '% of busy'],
        p.layers.map((layer) => [
          layer.layer,
          fmt(layer.ms, 0),
          layer.percentOfBusy === 0 ? '–' : `${fmt(layer.percentOfBusy)}%`,
        ]),
      ),
    );
    out.push(
      `\n<details><summary>Top functions by self time</summary>\n\n${table(
        ['function', 'ms'],
        p.topFunctions.map((f) => [`\`${f.fn.replace(/\|/g, '\\|')}\``, fmt(f.ms)]),
      )}\n</details>`,
    );
  }

  if (results.noisy) out.push(...renderNoisy(results.noisy));
  if (results.abuse) out.push(...renderAbuse(results.abuse));
  if (results.accountability) out.push(...renderAccountability(results.accountability));
  if (results.portability) out.push(...renderPortability(results.portability));
  if (results.realtime) out.push(...renderRealtime(results.realtime));

  out.push('\n## Memory and start-up\n');
  out.push(
    `API peak RSS (VmHWM over the whole run): ${fmt(results.memory.apiPeakRssMb)} MB; largest RSS sampled under load: ${fmt(results.memory.apiPeakRssMbDuringLoad)} MB.`,
  );
  const heap = (label: string, m: MemoryFigures | undefined) =>
    m &&
    `${label}: RSS ${fmt(m.rss)} MB, V8 heap ${fmt(m.heapUsed)} MB used of ${fmt(m.heapTotal)} MB, external ${fmt(m.external)} MB` +
      `${m.heapUsedAfterGc !== undefined ? ` (after a full GC: heap ${fmt(m.heapUsedAfterGc)} MB live, RSS ${fmt(m.rssAfterGc)} MB)` : ''}`;
  const heaps = [
    heap('after start-up', results.memory.afterStart),
    heap('after the load', results.memory.afterLoad),
  ].filter(Boolean);
  if (heaps.length) out.push(`API process memory ${heaps.join('; ')}.`);
  out.push(
    `API process start (schema build included) to listening: ${fmt(results.startup.apiProcessMs, 0)} ms.`,
  );
  const cold = results.startup.coldStart;
  if (cold)
    out.push(
      'error' in cold
        ? `Cold start failed: ${cold.error}`
        : `Cold \`npm start\` on a fresh data folder (initdb, roles, migrations, demo data, schema) to the first answered query: ${fmt(cold.firstAnswerMs / 1000, 2)} s (ready message at ${fmt((cold.readyMs ?? Number.NaN) / 1000, 2)} s).`,
    );
  out.push('');
  return out.join('\n');
}

function renderNoisy(noisy: NoisyResult | { error: string }): string[] {
  const out = ['\n## Noisy neighbour\n'];
  if ('error' in noisy) {
    out.push(`The section failed: ${noisy.error}`);
    return out;
  }
  const { request } = noisy;
  out.push(
    `${fmt(noisy.victims, 0)} tenants run the \`${noisy.victimScenario}\` scenario on ${noisy.victimConnections} connections (each request for one of them, with its own token), ` +
      `alone and while one other tenant (\`${noisy.noisyTenant.slug}\`, ${fmt(noisy.noisyTenant.products, 0)} products) sends, on ${noisy.noisyConnections} connections of its own, ` +
      `the heaviest request one operation may ask for, as fast as the API answers: ${request.aliases} aliases of \`products(first: ${request.pageSize}, filter: …) { nodes { id name price createdAt updatedAt } }\`, ` +
      `each with a filter of its own (${fmt(request.budgetCost, 0)} points under the cost budgets). Phases alternate, ${noisy.secondsPerPhase} s each; the noisy tenant starts 1 s before the victims are measured. ` +
      'An API process of its own. "Served" is 200 without errors, "throttled" 429 (the API refusing on purpose), "other" anything else; the victims\' non-2xx responses are errors.',
  );
  for (const note of noisy.notes) out.push(`\n> ${note}`);
  out.push('');
  out.push(
    table(
      [
        'phase',
        'victims req/s',
        'p50',
        'p99',
        'errors',
        'noisy served/s',
        'throttled/s',
        'other/s',
        'noisy served p50',
        'API peak RSS MB',
        'CPU % of a core',
      ],
      noisy.phases.map((phase, i) => [
        `${i + 1}. ${phase.kind === 'alone' ? 'alone' : 'with the noisy tenant'}`,
        fmt(phase.victims.throughput, 0),
        fmt(phase.victims.latencyMs.p50, 2),
        fmt(phase.victims.latencyMs.p99, 2),
        phase.victims.errors,
        fmt(phase.noisy?.servedPerSecond),
        fmt(phase.noisy?.throttledPerSecond),
        fmt(phase.noisy?.otherPerSecond),
        fmt(phase.noisy?.servedLatencyMs.p50, 0),
        fmt(phase.apiPeakRssMb ?? phase.victims.usage.apiPeakRssMb, 0),
        cpu(phase.victims),
      ]),
    ),
  );
  const s = noisySummary(noisy);
  const range = (x: { median: number; min: number; max: number }, digits: number) =>
    `${fmt(x.median, digits)} (${fmt(x.min, digits)}–${fmt(x.max, digits)})`;
  out.push(
    `\nVictims, median (range) over the phases: alone ${range(s.alone.throughput, 0)} req/s, p99 ${range(s.alone.p99, 2)} ms; ` +
      `with the noisy tenant ${range(s.noisy.throughput, 0)} req/s, p99 ${range(s.noisy.p99, 2)} ms. ` +
      `Throughput kept: **${pct(s.throughputRatio)}**; p99 **${fmt(s.p99Ratio, 2)}x**. API peak RSS over the section (start-up and warm-up included): **${fmt(noisy.apiPeakRssMb)} MB**` +
      `${noisy.apiHeapAfterGcMb !== null ? `; live heap after a full GC at the end ${fmt(noisy.apiHeapAfterGcMb)} MB` : ''}.`,
  );
  const samples = [
    ...new Set(
      noisy.phases.flatMap((phase) => [...phase.victims.errorSamples, ...(phase.noisy?.otherSamples ?? [])]),
    ),
  ];
  if (samples.length)
    out.push(
      `\nErrors and other responses: ${samples.map((e) => `\`${e.replace(/`/g, "'").slice(0, 200)}\``).join('; ')}`,
    );
  const throttled = new Map<string, number>();
  for (const phase of noisy.phases)
    for (const [code, count] of Object.entries(phase.noisy?.throttledCodes ?? {}))
      throttled.set(code, (throttled.get(code) ?? 0) + count);
  if (throttled.size)
    out.push(
      `\nThrottled responses by code: ${[...throttled].map(([code, count]) => `${code} ${fmt(count, 0)}`).join(', ')}.`,
    );
  const last = (kind: 'served' | 'throttled') =>
    noisy.phases
      .map((phase) => phase.noisy?.cost[kind])
      .filter((cost) => cost !== undefined)
      .at(-1);
  const costs = [
    noisy.probeCost !== undefined &&
      `its first request, before the flood: \`${JSON.stringify(noisy.probeCost)}\``,
    last('served') !== undefined && `its last served one: \`${JSON.stringify(last('served'))}\``,
    last('throttled') !== undefined && `its last throttled one: \`${JSON.stringify(last('throttled'))}\``,
  ].filter(Boolean);
  out.push(
    costs.length
      ? `\n\`extensions.cost\` of the noisy tenant's responses: ${costs.join('; ')}.`
      : '\nThe API sent no `extensions.cost` with the noisy requests.',
  );
  out.push(
    `\n<details><summary>The noisy request</summary>\n\n\`\`\`graphql\n${request.query}\n\`\`\`\n</details>`,
  );
  return out;
}

function renderAccountability(result: AccountabilityResult | { error: string }): string[] {
  const out = ['\n## Accountability\n'];
  if ('error' in result) {
    out.push(`The section failed: ${result.error}`);
    return out;
  }
  out.push(
    `Two interleaved comparisons on an API process of their own, ${result.connections} connections, ${result.secondsPerPhase} s phases, ` +
      `every request for one of ${fmt(result.tenants, 0)} tenants (spread over the data set) picked at random. ` +
      'Ratios compare the medians over the phases of each kind; ranges are the lowest and highest phase. "PG" is PostgreSQL\'s CPU.',
  );
  for (const note of result.notes) out.push(`\n> ${note}`);
  const range = (x: Spread, digits: number) =>
    `${fmt(x.median, digits)} (${fmt(x.min, digits)}–${fmt(x.max, digits)})`;
  const summaryRows = (rows: Array<[string, VariantFigures]>) =>
    table(
      [
        '',
        'phases',
        'req/s',
        'p50 ms',
        'p99 ms',
        'API CPU ms/req',
        'PG CPU ms/req',
        'PG CPU % of a core',
        'errors',
      ],
      rows.map(([label, f]) => [
        label,
        f.phases,
        range(f.throughput, 0),
        range(f.p50, 2),
        range(f.p99, 2),
        range(f.apiCpuMsPerRequest, 2),
        range(f.dbCpuMsPerRequest, 2),
        range(f.dbCpuPercent, 0),
        f.errors,
      ]),
    );

  out.push('\n### createProduct with and without the audit trail\n');
  if ('error' in result.audit) {
    out.push(`Failed: ${result.audit.error}`);
  } else {
    const audit = result.audit;
    out.push(
      `The \`create\` scenario with the trigger \`${audit.trigger}\` on \`${audit.table}\` enabled, as shipped, and disabled (\`alter table … disable trigger\` as the owner) for the phases without; ` +
        `re-enabled afterwards${audit.restored ? '' : ' — **it could not be: the trigger is still disabled**'}. Products and audit events (products, insert) of the section's tenants are counted before and after each phase, in the database.\n`,
    );
    out.push(
      table(
        ['phase', 'audit trigger', ...PHASE_HEADERS, 'products added', 'audit events added'],
        audit.phases.map((phase, i) => [
          i + 1,
          phase.kind === 'with' ? 'enabled' : 'disabled',
          ...phaseCells(phase.measured),
          fmt(phase.productsAdded, 0),
          fmt(phase.eventsAdded, 0),
        ]),
      ),
    );
    const s = auditSummary(audit);
    out.push(`\nMedian (range) over the phases:\n`);
    out.push(
      summaryRows([
        ['with the audit trigger', s.with],
        ['without', s.without],
      ]),
    );
    out.push(
      `\nThroughput with the audit trail: **${pct(s.throughputRatio)}** of without. ` +
        (s.eventsChecked
          ? `Events written: ${fmt(s.eventsWith, 0)} for the ${fmt(s.productsWith, 0)} products created with the trigger (one each), ${fmt(s.eventsWithout, 0)} without.`
          : `**Events do not match the products**: ${fmt(s.eventsWith, 0)} events for ${fmt(s.productsWith, 0)} products with the trigger, ${fmt(s.eventsWithout, 0)} events for ${fmt(s.productsWithout, 0)} products without.`),
    );
    const errors = [...new Set(audit.phases.flatMap((phase) => phase.measured.errorSamples))];
    if (errors.length)
      out.push(`\nErrors: ${errors.map((e) => `\`${e.replace(/`/g, "'").slice(0, 200)}\``).join('; ')}`);
  }

  out.push('\n### list with an API key and with a token\n');
  if ('error' in result.apiKeys) {
    out.push(`Failed: ${result.apiKeys.error}`);
  } else {
    const keys = result.apiKeys;
    out.push(
      `The \`list\` scenario for the same tenants with \`Authorization: Bearer tgk_…\` (one key per tenant, role \`${keys.role}\`, created through \`createApiKey\` by the tenant's owner in ${fmt(keys.createSeconds, 2)} s, deleted after the section) ` +
        `and with the tenant member's JWT. The API trusts a verified key for API_KEY_CACHE_SECONDS (${result.apiKeyCacheSeconds} s here) and a verified membership for MEMBERSHIP_CACHE_SECONDS; ` +
        `both caches were filled before measuring and refill as they expire, as in service. Checked first: ${keys.checks.join('; ')}.\n`,
    );
    out.push(
      table(
        ['phase', 'credential', ...PHASE_HEADERS],
        keys.phases.map((phase, i) => [
          i + 1,
          phase.kind === 'key' ? 'API key' : 'token (JWT)',
          ...phaseCells(phase.measured),
        ]),
      ),
    );
    const s = keysSummary(keys);
    out.push(`\nMedian (range) over the phases:\n`);
    out.push(
      summaryRows([
        ['API key', s.key],
        ['token', s.token],
      ]),
    );
    out.push(`\nThroughput with API keys: **${pct(s.throughputRatio)}** of with tokens.`);
    const errors = [...new Set(keys.phases.flatMap((phase) => phase.measured.errorSamples))];
    if (errors.length)
      out.push(`\nErrors: ${errors.map((e) => `\`${e.replace(/`/g, "'").slice(0, 200)}\``).join('; ')}`);
  }
  return out;
}
