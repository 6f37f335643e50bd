// The noisy-neighbour section: does one tenant sending the heaviest requests its budget
// allows, as fast as it can, slow everyone else down?
//
// Victims (many tenants, the `list` scenario, each with its own token) are measured
// alone and while the noisy tenant floods, alternately (alone, noisy, alone, noisy,
// alone by default) so drift between phases shows. The section runs an API process of
// its own, so its peak RSS is the section's and the run's other memory figures stay
// comparable with runs that skip it. See bench/README.md, "Noisy neighbour".
import { ROW_PRICES, rowsPrice } from '../../src/limits/row-prices.ts';
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import { runNoisyLoad, type NoisyLoadResult } from './noisy-load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import { peakRssOfTree, resetPeakRss } from './sampler.ts';
import type { BenchTenant } from './scenarios.ts';
import { median, ratio, round, spread, spreadRange, type Spread } from './stats.ts';
import { ensureOwnTenant, graphql, signToken, type OwnTenant } from './tenants.ts';

// ---------------------------------------------------------------------------------------
// The noisy request
//
// The heaviest request one operation may ask for under the cost budgets: every object in
// a response costs 1 point, every operation 10, and one operation may cost at most 5,000.
// A connection alias requests 1 object for itself plus one per row of its page, so with
// the most aliases the API accepts (MAX_QUERY_ALIASES, 15):
//
//   10 + 15 × (1 + N) ≤ 5,000   →   N ≤ 4,990 / 15 − 1 = 331.7   →   N = 331
//
// that is 10 + 15 × 332 = 4,990 points (N = 332 would cost 5,005).
//
// Each alias reads other rows (its own price filter): grafast merges aliases with
// identical arguments into one SQL query (15 identical aliases ran 1 SELECT, checked
// 2026-11-26), which would spare the database 14 of the 15 reads the budget pays for.
// Not `offset`: skipped rows cost 1 point each, so distinct offsets would shrink the
// pages to 41 rows. The filters need a page of rows at or above the highest price bound.
//
// A price range is a filter no index serves (src/limits/row-prices.ts): each alias also pays
// for scanning the tenant's NOISY_PRODUCTS rows, (40 + 4) × 5 = 220 points, so the page
// is 4,990 / 15 − 220 − 1 = 111 rows: 10 + 15 × (1 + 111 + 220) = 4,990 points.
const OPERATION_COST = 10;
const MAX_OPERATION_COST = 5_000;
export const NOISY_ALIASES = 15;
const NOISY_PRODUCTS = 5_000;
const SCAN_COST = rowsPrice(NOISY_PRODUCTS, ROW_PRICES.pageScan + ROW_PRICES.operator);
export const NOISY_PAGE_SIZE =
  Math.floor((MAX_OPERATION_COST - OPERATION_COST) / NOISY_ALIASES - SCAN_COST) - 1;
/** Connections of the noisy tenant: the per-tenant limit of executing operations. */
export const NOISY_CONNECTIONS = 4;
const NOISY_SLUG = 'bench-noisy';

export function noisyQuery(pageSize = NOISY_PAGE_SIZE): string {
  const aliases = Array.from(
    { length: NOISY_ALIASES },
    (_, i) =>
      `  page${i + 1}: products(first: ${pageSize}, filter: { price: { greaterThanOrEqualTo: "${i}" } }) { nodes { id name price createdAt updatedAt } }`,
  );
  return `query NoisyNeighbour {\n${aliases.join('\n')}\n}`;
}

/** What the request costs under the budget model above. */
export function budgetCost(pageSize: number): number {
  return OPERATION_COST + NOISY_ALIASES * (1 + pageSize + SCAN_COST);
}

// ---------------------------------------------------------------------------------------
// Results

export interface NoisyPhase {
  /** `alone`: the victims only; `noisy`: the victims while the noisy tenant floods. */
  kind: 'alone' | 'noisy';
  victims: Measured;
  noisy?: NoisyLoadResult;
  /** VmHWM of the API process over this phase (reset just before it), MB; null where the kernel does not allow the reset. */
  apiPeakRssMb: number | null;
}

export interface NoisyResult {
  victims: number;
  victimConnections: number;
  victimScenario: string;
  noisyConnections: number;
  noisyTenant: { slug: string; products: number; productsAdded: number };
  request: {
    aliases: number;
    /** The page size measured: NOISY_PAGE_SIZE, or the largest the API accepted when it refused that. */
    pageSize: number;
    intendedPageSize: number;
    /** The request's cost under the budget model (10 + aliases × (1 + page size)). */
    budgetCost: number;
    query: string;
    /** The API's refusal of NOISY_PAGE_SIZE, when it refused it. */
    refusal?: string;
  };
  /** `extensions.cost` of the first accepted request, when the API sends one. */
  probeCost?: unknown;
  secondsPerPhase: number;
  phases: NoisyPhase[];
  /** VmHWM of the section's API process from its start to the end of the section, MB. */
  apiPeakRssMb: number | null;
  /** The API's live heap after a full GC at the end of the section, MB. */
  apiHeapAfterGcMb: number | null;
  notes: string[];
}

export interface NoisySummary {
  alone: { throughput: Spread; p99: Spread };
  noisy: { throughput: Spread; p99: Spread };
  /** Victims' median throughput with the noisy tenant / alone. */
  throughputRatio: number;
  /** Victims' median p99 with the noisy tenant / alone. */
  p99Ratio: number;
  victimErrors: number;
  /** The noisy tenant's responses per second, medians over the noisy phases. */
  served: number;
  throttled: number;
  other: number;
}

export function noisySummary(result: NoisyResult): NoisySummary {
  const of = (kind: NoisyPhase['kind']) => result.phases.filter((phase) => phase.kind === kind);
  const figures = (phases: NoisyPhase[]) => ({
    throughput: spread(phases.map((phase) => phase.victims.throughput)),
    p99: spread(phases.map((phase) => phase.victims.latencyMs.p99)),
  });
  const alone = figures(of('alone'));
  const noisy = figures(of('noisy'));
  const noisyRate = (field: 'servedPerSecond' | 'throttledPerSecond' | 'otherPerSecond') =>
    round(median(of('noisy').map((phase) => phase.noisy?.[field] ?? 0)), 1);
  return {
    alone,
    noisy,
    throughputRatio: ratio(noisy.throughput.median, alone.throughput.median),
    p99Ratio: ratio(noisy.p99.median, alone.p99.median),
    victimErrors: result.phases.reduce((sum, phase) => sum + phase.victims.errors, 0),
    served: noisyRate('servedPerSecond'),
    throttled: noisyRate('throttledPerSecond'),
    other: noisyRate('otherPerSecond'),
  };
}

const TARGET_NAME = 'noisy neighbour';

export function noisyTargets(result: NoisyResult | { error: string }): Target[] {
  if ('error' in result)
    return [
      {
        name: `${TARGET_NAME}: victims with one tenant flooding`,
        goal: 'measured',
        measured: `failed: ${result.error.slice(0, 200)}`,
        ratio: null,
        met: false,
      },
    ];
  const s = noisySummary(result);
  const reduced =
    result.request.pageSize !== result.request.intendedPageSize
      ? `; noisy pages of ${result.request.pageSize} rows, not ${result.request.intendedPageSize}: the API refused those`
      : '';
  const context = `${result.victims} victims on ${result.victimConnections} connections; noisy tenant ${s.served}/s served, ${s.throttled}/s throttled, ${s.other}/s other${reduced}`;
  const errors = s.victimErrors > 0 ? `; victims' errors ${s.victimErrors}` : '';
  const rss = result.apiPeakRssMb;
  return [
    {
      name: `${TARGET_NAME}: victims' throughput with / without one tenant flooding`,
      goal: '>= 80%',
      measured: `${s.noisy.throughput.median}/s vs ${s.alone.throughput.median}/s alone = ${Math.round(s.throughputRatio * 100)}% (phases: alone ${spreadRange(s.alone.throughput, '/s')}, flooded ${spreadRange(s.noisy.throughput, '/s')}; ${context})${errors}`,
      ratio: s.throughputRatio,
      met: s.throughputRatio >= 0.8 && s.victimErrors === 0,
    },
    {
      name: `${TARGET_NAME}: victims' p99 with / without one tenant flooding`,
      goal: '<= 1.5x',
      measured: `${s.noisy.p99.median} ms vs ${s.alone.p99.median} ms alone = ${s.p99Ratio}x (phases: alone ${spreadRange(s.alone.p99, ' ms')}, flooded ${spreadRange(s.noisy.p99, ' ms')})${errors}`,
      ratio: s.p99Ratio,
      met: s.p99Ratio <= 1.5 && s.victimErrors === 0,
    },
    {
      name: `${TARGET_NAME}: API peak RSS`,
      goal: '<= 300 MB',
      measured:
        rss === null
          ? 'not measured'
          : `${rss} MB (VmHWM of the section's API process${result.apiHeapAfterGcMb !== null ? `; live heap after a full GC ${result.apiHeapAfterGcMb} MB` : ''})`,
      ratio: rss === null ? null : ratio(rss, 300),
      met: rss === null ? null : rss <= 300,
    },
  ];
}

// ---------------------------------------------------------------------------------------
// The noisy tenant's data

/** The noisy tenant: NOISY_PRODUCTS products, no categories (lib/tenants.ts, ensureOwnTenant). */
function ensureNoisyTenant(ownerUrl: string): Promise<OwnTenant> {
  return ensureOwnTenant(ownerUrl, {
    slug: NOISY_SLUG,
    name: 'Noisy neighbour',
    email: 'noisy@bench.test',
    categories: 0,
    products: NOISY_PRODUCTS,
    async insertProducts(client, tenantId, from, to) {
      await client.query(
        `insert into app_public.products (tenant_id, name, price, created_at, updated_at)
         select $1, 'noisy product ' || i, (i % 1000) + 0.99, now() - i * interval '1 minute', now() - i * interval '1 minute'
         from generate_series($2::int, $3::int) as i`,
        [tenantId, from, to],
      );
    },
  });
}

// ---------------------------------------------------------------------------------------
// Probing the request before measuring it

type Probe = { accepted: true; cost: unknown } | { accepted: false; code: string; message: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function probe(api: ApiProcess, token: string, pageSize: number): Promise<Probe> {
  for (let attempt = 0; ; attempt += 1) {
    const response = await graphql(api.url, token, noisyQuery(pageSize));
    const error = response.body?.errors?.[0];
    const code = String(error?.extensions?.code ?? '');
    // A budget spent by the previous probes refills within seconds.
    if (response.status === 429 && attempt < 10) {
      await sleep(1000 * Math.min(10, Number(error?.extensions?.retryAfter) || 1));
      continue;
    }
    if (response.status === 400 && code === 'QUERY_TOO_COMPLEX')
      return { accepted: false, code, message: String(error.message) };
    if (response.status !== 200 || error)
      throw new Error(
        `The noisy request fails: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 500)}`,
      );
    const short = Object.entries(response.body.data as Record<string, { nodes: unknown[] }>).filter(
      ([, page]) => page.nodes.length !== pageSize,
    );
    if (short.length > 0)
      throw new Error(
        `The noisy tenant's pages are not full (${short.map(([alias, page]) => `${alias}: ${page.nodes.length} rows`).join(', ')})`,
      );
    return { accepted: true, cost: response.body.extensions?.cost };
  }
}

/** The largest page size the API accepts for the noisy request, by bisection. */
async function largestAccepted(
  api: ApiProcess,
  token: string,
  refused: number,
): Promise<{ pageSize: number; cost: unknown }> {
  const smallest = await probe(api, token, 1);
  if (!smallest.accepted) throw new Error(`The API refuses even pages of 1 row: ${smallest.message}`);
  let accepted = { pageSize: 1, cost: smallest.cost };
  let high = refused;
  while (high - accepted.pageSize > 1) {
    const middle = Math.floor((accepted.pageSize + high) / 2);
    const outcome = await probe(api, token, middle);
    if (outcome.accepted) accepted = { pageSize: middle, cost: outcome.cost };
    else high = middle;
  }
  return accepted;
}

// ---------------------------------------------------------------------------------------
// The section

export interface NoisyOptions extends Measuring {
  ownerUrl: string;
  /** HS256 secret of the run: the noisy tenant's token is signed with it. */
  secret: string;
  /** The tenants of bench.tenant_index with their tokens; the victims are spread over them. */
  tenants: BenchTenant[];
  victims: number;
  victimConnections: number;
  /** Noisy phases; each is preceded and the last followed by a phase alone. */
  rounds: number;
  seconds: number;
  /** An API process with the run's settings; the section stops it. */
  startApi(): Promise<ApiProcess>;
  /** Whether that API is one process (a cluster's primary does not report memory). */
  singleProcess: boolean;
  /** The victims' load: the list scenario for these tenants, each request with its tenant's token. */
  victimLoad(
    api: ApiProcess,
    tenants: BenchTenant[],
    connections: number,
    seconds: number,
  ): Promise<LoadResult>;
}

/** The noisy tenant starts this long before the victims are measured, and stops after them. */
const RAMP_SECONDS = 1;
/** Requests still running after a phase (a noisy page takes a while) finish before the next. */
const SETTLE_SECONDS = 1;

const mb = (bytes: number | undefined) => (bytes === undefined ? null : round(bytes / 1048576, 1));

export async function runNoisyNeighbour(options: NoisyOptions): Promise<NoisyResult> {
  const { log, seconds } = options;
  const notes: string[] = [];
  const count = Math.min(options.victims, options.tenants.length);
  if (count < 1) throw new Error('No tenants to be victims');
  // Spread over the data set rather than its first rows.
  const victims = Array.from(
    { length: count },
    (_, i) => options.tenants[Math.floor((i * options.tenants.length) / count)]!,
  );

  const tenant = await ensureNoisyTenant(options.ownerUrl);
  if (tenant.productsAdded > 0) {
    notes.push(
      `Added ${tenant.productsAdded.toLocaleString('en-US')} products to the noisy tenant \`${NOISY_SLUG}\` (a tenant of its own, not one the other sections pick) before measuring, so that its ${NOISY_ALIASES} pages are full.`,
    );
  }
  const token = signToken(options.secret, tenant, 3 * 3600);

  const api = await options.startApi();
  try {
    log(
      `  API process ${api.pid}; ${count} victims (list, ${options.victimConnections} connections); noisy tenant ${NOISY_SLUG} with ${tenant.products} products${tenant.productsAdded ? ` (${tenant.productsAdded} added now)` : ''}`,
    );
    let pageSize = NOISY_PAGE_SIZE;
    let refusal: string | undefined;
    const outcome = await probe(api, token, pageSize);
    let probeCost = outcome.accepted ? outcome.cost : undefined;
    if (!outcome.accepted) {
      refusal = `${outcome.code}: ${outcome.message}`;
      const largest = await largestAccepted(api, token, pageSize);
      pageSize = largest.pageSize;
      probeCost = largest.cost;
      const note =
        `The API refused the noisy request at ${NOISY_PAGE_SIZE} rows per page (${budgetCost(NOISY_PAGE_SIZE)} points under the budget model) with ${refusal} ` +
        `Its cost model is not the budget one this section was written for: measured instead with the largest page it accepts, ${pageSize} rows (${NOISY_ALIASES} × ${pageSize} = ${NOISY_ALIASES * pageSize} rows per request).`;
      notes.push(note);
      log(`\n  !! ${note}\n`);
    }
    const query = noisyQuery(pageSize);
    const body = JSON.stringify({ query });

    // Warm-up, not recorded: V8 optimises both requests' paths, PostgreSQL's caches fill.
    // The victims' last, so the first phase does not start in the wake of the flood.
    await runNoisyLoad({ url: api.url, token, body, connections: NOISY_CONNECTIONS, durationSeconds: 1 });
    await sleep(SETTLE_SECONDS * 1000);
    await options.victimLoad(api, victims, options.victimConnections, 3);

    const kinds: Array<NoisyPhase['kind']> = [
      'alone',
      ...Array.from({ length: options.rounds }, () => ['noisy', 'alone'] as const).flat(),
    ];
    const phases: NoisyPhase[] = [];
    let sectionPeak = 0;
    let resettable = true;
    for (const kind of kinds) {
      sectionPeak = Math.max(sectionPeak, peakRssOfTree(api.pid) ?? 0);
      resettable &&= resetPeakRss(api.pid);
      const flood =
        kind === 'noisy'
          ? runNoisyLoad({
              url: api.url,
              token,
              body,
              connections: NOISY_CONNECTIONS,
              durationSeconds: RAMP_SECONDS + seconds + 0.5,
            })
          : undefined;
      // Awaited below; a failure meanwhile must not end the process as an unhandled rejection.
      flood?.catch(() => {});
      if (flood) await sleep(RAMP_SECONDS * 1000);
      const measured = await options.measure(api.pid, () =>
        options.victimLoad(api, victims, options.victimConnections, seconds),
      );
      const noisy = flood && (await flood);
      const peak = peakRssOfTree(api.pid);
      sectionPeak = Math.max(sectionPeak, peak ?? 0);
      const phase: NoisyPhase = {
        kind,
        victims: measured,
        ...(noisy && { noisy }),
        apiPeakRssMb: resettable ? mb(peak) : null,
      };
      phases.push(phase);
      log(describePhase(phase));
      await sleep(SETTLE_SECONDS * 1000);
    }
    if (!resettable)
      notes.push(
        'The kernel did not let VmHWM be reset between phases: per-phase peaks are the largest RSS sampled every 250 ms.',
      );
    const memory = options.singleProcess ? await api.memory() : undefined;
    return {
      victims: count,
      victimConnections: options.victimConnections,
      victimScenario: 'list',
      noisyConnections: NOISY_CONNECTIONS,
      noisyTenant: { slug: NOISY_SLUG, products: tenant.products, productsAdded: tenant.productsAdded },
      request: {
        aliases: NOISY_ALIASES,
        pageSize,
        intendedPageSize: NOISY_PAGE_SIZE,
        budgetCost: budgetCost(pageSize),
        query,
        ...(refusal && { refusal }),
      },
      ...(probeCost !== undefined && { probeCost }),
      secondsPerPhase: seconds,
      phases,
      apiPeakRssMb: mb(Math.max(sectionPeak, peakRssOfTree(api.pid) ?? 0) || undefined),
      apiHeapAfterGcMb: memory?.afterGc ? mb(memory.afterGc.heapUsed) : null,
      notes,
    };
  } finally {
    await api.stop();
  }
}

function describePhase(phase: NoisyPhase): string {
  const v = phase.victims;
  const rss = phase.apiPeakRssMb ?? v.usage.apiPeakRssMb;
  const victims = `  ${phase.kind.padEnd(6)} victims ${String(v.throughput).padStart(7)}/s  p50 ${v.latencyMs.p50} p99 ${v.latencyMs.p99} ms  errors ${v.errors}  api cpu ${v.usage.apiCpuPercent}%  db ${v.usage.dbCpuPercent}%  rss ${rss} MB`;
  const n = phase.noisy;
  if (!n) return victims;
  const codes = Object.entries(n.throttledCodes)
    .map(([code, times]) => `${code} ${times}`)
    .join(', ');
  return `${victims}\n         noisy   served ${n.servedPerSecond}/s (p50 ${n.servedLatencyMs.p50} ms)  throttled ${n.throttledPerSecond}/s${codes ? ` (${codes})` : ''}  other ${n.otherPerSecond}/s${n.otherSamples.length ? `: ${n.otherSamples[0]}` : ''}`;
}
