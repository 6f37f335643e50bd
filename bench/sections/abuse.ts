// Abuse (issue 21): one attacker tenant with 200,000 products loops each operation that
// is dear per point, as fast as its budget lets it and obeying Retry-After, while 50
// victim tenants run the list scenario. For every operation: the victims' throughput,
// p99 and errors, attacked against alone; the points the attacker was charged and the
// database time it took, per point, against the victims' own list. See bench/README.md,
// "Abuse".
//
// Phases per operation are lib/ab.ts's A B B A (alone, attacked, attacked, alone), one
// alone phase shared where one operation's last and the next one's first meet. The
// victims' load is the run's own (autocannon, context.apiLoad); the attacker runs in a
// worker thread (this module, started again), so its responses and subscription events
// do not delay the victims' load generator, as lib/noisy-load.ts does for the noisy tenant.
//
// Database time is measured twice: as the API reports it (`extensions.cost.databaseMs`,
// when it does) and independently, by sampling pg_stat_activity every SAMPLE_MS: an
// active backend running one of the victims' list statements is victim time, any other
// active statement (but begin, set_config, commit) is the attacker's. Sampling is an
// estimate of the integral of busy backends over time, not a sum of statement times; it
// counts statements cancelled by the timeout, which pg_stat_statements does not.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import { databaseNameOf } from '../../src/database/migrations.ts';
import WebSocket from 'ws';
import {
  type AbuseAttackResult,
  type AbusePhase,
  type AbuseResult,
  type AttackerFigures,
  type Busy,
  codes,
  total,
} from '../lib/abuse.ts';
import { ABUSE_NAMES, ABUSE_SLUG, deleteCreated, ensureAttackerTenant } from '../lib/abuse-tenant.ts';
import { phaseOrder } from '../lib/ab.ts';
import type { ApiProcess } from '../lib/api.ts';
import { assertLoopback } from '../lib/load.ts';
import type { Measured } from '../lib/measured.ts';
import { scenarioNamed, type Scenario } from '../lib/scenarios.ts';
import { round, summarize } from '../lib/stats.ts';
import { graphql, signToken } from '../lib/tenants.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

// ---------------------------------------------------------------------------------------
// The attacks. Each is tried at its sizes in order (aliases, list length, page size);
// the first the API runs is the one measured, so that an API pricing the operation
// before it runs meets the heaviest variant it accepts, as a real attacker would try.

interface Attack {
  name: string;
  title: string;
  sizes: number[];
  request(size: number): { query: string; variables?: Record<string, unknown> };
  /** Open subscriptions to `productChanged` while the request (a write) loops. */
  subscribers?: boolean;
}

const aliases = (n: number, field: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => `  a${i + 1}: ${field(i)}`).join('\n');
const ALIASES = [15, 7, 3, 1];
/**
 * What makes aliases differ where the operation itself would not: a price floor every
 * row passes (prices start at 0.50). grafast runs identical aliases as one query: 15
 * identical distinctCount aliases kept one backend busy, not 15.
 */
const floor = (i: number) => `price: { greaterThanOrEqualTo: "${(i / 100).toFixed(2)}" }`;
const MARKER = 'bench-abuse-made';

const ATTACKS: Attack[] = [
  {
    name: 'list',
    title: 'control: the normal `products(first: 50) { nodes { name price } }`',
    sizes: [50],
    request: (n) => ({ query: `query AbuseList { products(first: ${n}) { nodes { name price } } }` }),
  },
  {
    name: 'distinct-count',
    title:
      'N aliases of `products(filter: <floor>) { aggregates { distinctCount { name createdAt price } } }`',
    sizes: ALIASES,
    request: (n) => ({
      query: `query AbuseDistinctCount {\n${aliases(n, (i) => `products(filter: { ${floor(i)} }) { aggregates { distinctCount { name createdAt price } } }`)}\n}`,
    }),
  },
  {
    name: 'count-search',
    title:
      'N aliases of `products(filter: { name: { includesInsensitive: "zzi" }, <floor> }) { totalCount }`',
    sizes: ALIASES,
    request: (n) => ({
      query: `query AbuseCountSearch {\n${aliases(n, (i) => `products(filter: { name: { includesInsensitive: "zzi" }, ${floor(i)} }) { totalCount }`)}\n}`,
    }),
  },
  {
    name: 'count-price',
    title: 'N aliases of `products(filter: { price: { greaterThan: "<i>" } }) { totalCount }`',
    sizes: ALIASES,
    request: (n) => ({
      query: `query AbuseCountPrice {\n${aliases(n, (i) => `products(filter: { price: { greaterThan: "${i}" } }) { totalCount }`)}\n}`,
    }),
  },
  {
    // Not in the issue's list: the filter no index serves, without totalCount, so that
    // pricing totalCount alone does not catch it. Each alias reads every row for nothing.
    name: 'search-nothing',
    title:
      'N aliases of `products(first: 1, filter: { name: { includesInsensitive: "zzi<i>" } }) { nodes { id } }`',
    sizes: ALIASES,
    request: (n) => ({
      query: `query AbuseSearchNothing {\n${aliases(n, (i) => `products(first: 1, filter: { name: { includesInsensitive: "zzi${i}" } }) { nodes { id } }`)}\n}`,
    }),
  },
  {
    // Every name of the tenant in the list: no row passes, so every row is compared with
    // every name. A shorter list (a capped one) lets the first row through, so from there
    // on the attacker asks for totalCount, which compares every row again.
    name: 'not-in-list',
    title:
      "`products(first: 1, filter: { name: { notInInsensitive: $names } }) { nodes { id } }` with N names in the variables, all of the tenant's; fewer than all, `{ totalCount }` instead of the page",
    sizes: [ABUSE_NAMES, 1_000, 100, 10],
    request: (n) => ({
      query: `query AbuseNotIn($names: [String!]!) { products(${n < ABUSE_NAMES ? '' : 'first: 1, '}filter: { name: { notInInsensitive: $names } }) { ${n < ABUSE_NAMES ? 'totalCount' : 'nodes { id }'} } }`,
      variables: { names: Array.from({ length: n }, (_, i) => `item ${i}`) },
    }),
  },
  {
    name: 'relation-filter',
    title:
      '`products(first: 1, filter: { category: { products: { aggregates: { distinctCount: { name: { greaterThan: "1000000" } } } } } })`',
    sizes: [1],
    request: () => ({
      query:
        'query AbuseRelationFilter { products(first: 1, filter: { category: { products: { aggregates: { distinctCount: { name: { greaterThan: "1000000" } } } } } }) { nodes { id } } }',
    }),
  },
  {
    name: 'nested-count',
    title: '`products(first: N) { nodes { category { products { totalCount } } } }`',
    sizes: [100, 50, 10],
    request: (n) => ({
      query: `query AbuseNestedCount { products(first: ${n}) { nodes { category { products { totalCount } } } } }`,
    }),
  },
  {
    name: 'grouped-by-hour',
    title:
      '`groupedAggregates(groupBy: [CREATED_AT_TRUNCATED_TO_HOUR]) { keys distinctCount { name price } }`',
    sizes: [1],
    request: () => ({
      query:
        'query AbuseGroupedByHour { products { groupedAggregates(groupBy: [CREATED_AT_TRUNCATED_TO_HOUR]) { keys distinctCount { name price } } } }',
    }),
  },
  {
    name: 'subscriptions',
    title: 'open subscriptions to `productChanged`, and `createProduct` in a loop',
    sizes: [1],
    subscribers: true,
    request: () => ({
      query: `mutation AbuseCreate { createProduct(input: { name: "${MARKER}", price: "1.00" }) { product { id } } }`,
    }),
  },
];

// ---------------------------------------------------------------------------------------
// The attacker: loops in a worker thread

interface AttackPlan {
  url: string;
  token: string;
  body: string;
  loops: number;
  /** How long the loops run once the subscriptions (if any) are open. */
  seconds: number;
  subscribers: number;
}

const WORKER_KIND = 'tenantgraph-abuse-attacker';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function retryAfterOf(header: string | null, body: any): number | undefined {
  const fromBody = (body?.errors as any[] | undefined)?.find((e) => e?.extensions?.retryAfter !== undefined)
    ?.extensions?.retryAfter;
  const seconds = Number(header ?? fromBody);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

async function attack(plan: AttackPlan, ready: () => void): Promise<AttackerFigures> {
  const figures: AttackerFigures = {
    ran: 0,
    throttled: 0,
    refused: 0,
    failed: 0,
    codes: {},
    points: 0,
    reportedDbMs: null,
    sleptSeconds: 0,
    ranLatencyMs: summarize([]),
    samples: [],
  };
  const latencies: number[] = [];
  const charge = (cost: any) => {
    if (typeof cost?.actualQueryCost === 'number') figures.points += cost.actualQueryCost;
    if (typeof cost?.databaseMs === 'number')
      figures.reportedDbMs = (figures.reportedDbMs ?? 0) + cost.databaseMs;
  };
  const noteCode = (code: string) => (figures.codes[code] = (figures.codes[code] ?? 0) + 1);
  const sample = (text: string) => figures.samples.length < 5 && figures.samples.push(text.slice(0, 300));

  const clients: Client[] = [];
  if (plan.subscribers > 0) {
    const subscriptions = { open: 0, failed: 0, events: 0, ended: 0 };
    figures.subscriptions = subscriptions;
    // As many on one socket as MAX_SUBSCRIPTIONS_PER_CONNECTION allows by default (20),
    // four subscribe operations at a time (TENANT_CONCURRENCY), as lib/realtime.ts does.
    const perSocket = 20;
    for (let i = 0; i < Math.ceil(plan.subscribers / perSocket); i++)
      clients.push(
        createClient({
          url: `${plan.url.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          connectionParams: { Authorization: `Bearer ${plan.token}` },
        }),
      );
    const pending = Array.from({ length: plan.subscribers }, (_, i) => clients[Math.floor(i / perSocket)]!);
    const subscribeOne = (client: Client) =>
      new Promise<void>((resolve) => {
        let first = true;
        const timer = setTimeout(
          () => (first ? ((first = false), subscriptions.failed++, resolve()) : 0),
          10_000,
        );
        client.subscribe(
          { query: 'subscription AbuseChanged { productChanged { event product { id } } }' },
          {
            next: (result) => {
              charge((result.extensions as { cost?: unknown } | undefined)?.cost);
              if (!first) return void subscriptions.events++;
              first = false;
              clearTimeout(timer);
              if (result.errors) subscriptions.failed++;
              else subscriptions.open++;
              resolve();
            },
            error: (error) => {
              if (first) {
                first = false;
                clearTimeout(timer);
                subscriptions.failed++;
                sample(`subscribe: ${JSON.stringify(error).slice(0, 200)}`);
                resolve();
              } else {
                subscriptions.ended++;
                sample(`subscription ended: ${JSON.stringify(error).slice(0, 200)}`);
              }
            },
            complete: () => void (first || subscriptions.ended++),
          },
        );
      });
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let client = pending.shift(); client; client = pending.shift()) await subscribeOne(client);
      }),
    );
  }
  ready();

  const deadline = performance.now() + plan.seconds * 1000;
  await Promise.all(
    Array.from({ length: plan.loops }, async () => {
      while (performance.now() < deadline) {
        const sent = performance.now();
        let status = 0;
        let retryAfter: number | undefined;
        try {
          const response = await fetch(`${plan.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${plan.token}` },
            body: plan.body,
            signal: AbortSignal.timeout(30_000),
          });
          status = response.status;
          const text = await response.text();
          let body: any;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          charge(body?.extensions?.cost);
          for (const error of (body?.errors as any[] | undefined) ?? [])
            noteCode(String(error?.extensions?.code ?? 'no code'));
          if (body && 'data' in body) {
            figures.ran++;
            latencies.push(performance.now() - sent);
            if (body.errors) sample(`${status} ran with errors: ${text}`);
          } else if (status === 429) figures.throttled++;
          else if (status >= 400 && status < 500) {
            figures.refused++;
            sample(`${status}: ${text}`);
          } else {
            figures.failed++;
            sample(`${status}: ${text}`);
          }
          retryAfter = retryAfterOf(response.headers.get('retry-after'), body);
        } catch (error) {
          figures.failed++;
          noteCode('no answer');
          sample(`no answer: ${(error as Error).message}`);
        }
        // A polite client: Retry-After when told, else a second's pause after a 5xx or
        // no answer (without it, a closed gate's instant 503s become a flood of requests).
        const pause = retryAfter ?? (status === 0 || status >= 500 ? 1 : 0);
        if (pause > 0) {
          const ms = Math.min(pause * 1000, deadline - performance.now());
          if (ms > 0) {
            figures.sleptSeconds += ms / 1000;
            await sleep(ms);
          }
        }
      }
    }),
  );
  figures.ranLatencyMs = summarize(latencies);
  figures.sleptSeconds = round(figures.sleptSeconds, 1);
  if (figures.reportedDbMs !== null) figures.reportedDbMs = round(figures.reportedDbMs, 1);
  // graphql-ws's dispose() closes the socket; the server then drops what it queued for it.
  for (const client of clients) void client.dispose();
  return figures;
}

type WorkerMessage = { ready: true } | { figures: AttackerFigures };

/** Starts the attacker; `ready` resolves once its subscriptions are open and its loops start. */
function startAttacker(plan: AttackPlan): { ready: Promise<void>; done: Promise<AttackerFigures> } {
  assertLoopback(plan.url);
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: WORKER_KIND, plan } });
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = new Promise<AttackerFigures>((resolve, reject) => {
    let figures: AttackerFigures | undefined;
    worker.on('message', (message: WorkerMessage) =>
      'ready' in message ? markReady() : (figures = message.figures),
    );
    worker.once('error', reject);
    worker.once('exit', (code) =>
      figures ? resolve(figures) : reject(new Error(`The attacker's worker exited with ${code}`)),
    );
  });
  // A failure before `ready` ends the wait for it too.
  done.catch(() => markReady());
  return { ready, done };
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  const { plan } = workerData as { plan: AttackPlan };
  const figures = await attack(plan, () => parentPort!.postMessage({ ready: true } satisfies WorkerMessage));
  parentPort!.postMessage({ figures } satisfies WorkerMessage);
}

// ---------------------------------------------------------------------------------------
// Database time, sampled from pg_stat_activity

const SAMPLE_MS = 10;

class BusySampler {
  private client: pg.Client;
  private database: string;
  /** The victims' list statements (their first 1,000 characters, as pg_stat_activity keeps). */
  private victimSql: string[];
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private inFlight = false;
  private failure: Error | undefined;
  private busy: Busy = { list: 0, transaction: 0, other: 0 };

  /** `rootUrl`: a superuser's, since other roles' query texts are hidden from the owner. */
  constructor(rootUrl: string, database: string, victimSql: string[]) {
    this.database = database;
    this.victimSql = victimSql;
    this.client = new pg.Client({ connectionString: rootUrl, application_name: 'bench-abuse-sampler' });
  }

  connect = () => this.client.connect();
  close = () => this.client.end();

  /** Backends of the database running a statement now, by kind. */
  async active(): Promise<Busy> {
    const { rows } = await this.client.query<{ kind: keyof Busy; n: number }>(
      `select case when left(btrim(query), 1000) = any($2::text[]) then 'list'
                   when query ~* '^\\s*(begin|commit|rollback|select set_config)' then 'transaction'
                   else 'other' end as kind,
              count(*)::int as n
       from pg_stat_activity
       where datname = $1 and state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
       group by 1`,
      [this.database, this.victimSql],
    );
    const busy: Busy = { list: 0, transaction: 0, other: 0 };
    for (const row of rows) busy[row.kind] = row.n;
    return busy;
  }

  start(): void {
    this.busy = { list: 0, transaction: 0, other: 0 };
    this.failure = undefined;
    this.last = performance.now();
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = true;
      this.active().then(
        (active) => {
          // Each sample stands for the time since the previous one.
          const now = performance.now();
          for (const kind of ['list', 'transaction', 'other'] as const)
            this.busy[kind] += active[kind] * (now - this.last);
          this.last = now;
          this.inFlight = false;
        },
        (error: Error) => {
          this.failure = error;
          this.inFlight = false;
        },
      );
    }, SAMPLE_MS);
  }

  async stop(): Promise<Busy> {
    clearInterval(this.timer);
    while (this.inFlight) await sleep(5);
    if (this.failure) throw new Error(`Sampling pg_stat_activity failed: ${this.failure.message}`);
    const { list, transaction, other } = this.busy;
    return { list: round(list, 1), transaction: round(transaction, 1), other: round(other, 1) };
  }
}

// ---------------------------------------------------------------------------------------
// Results

interface VictimTally {
  /** Responses that failed the list's check, by `extensions.code`. */
  errors: Record<string, number>;
  /** Of those, answered without `data` (not 2xx): runHttp counts these twice. */
  withoutData: number;
  /** Sums over the responses that carried them, and how many did. */
  points: number;
  costed: number;
  reportedDbMs: number;
  timed: number;
}

// ---------------------------------------------------------------------------------------
// The section

const RAMP_SECONDS = 1;
const DRAIN_LIMIT_SECONDS = 20;
const QUIET_MS = 500;

const NUMBERS = [
  'abuse-victims',
  'abuse-victim-connections',
  'abuse-attacker-connections',
  'abuse-products',
  'abuse-subscribers',
  'abuse-seconds',
  'abuse-rounds',
] as const;

export const abuse: Section = {
  name: 'abuse',
  api: 'own',
  options: {
    'abuse-victims': { default: '500', help: 'tenants listing products while the attacker loops' },
    'abuse-victim-connections': { default: '4', help: "the victims' connections" },
    'abuse-attacker-connections': { default: '4', help: "the attacker's loops (TENANT_CONCURRENCY)" },
    'abuse-products': { default: '200000', help: "the attacker's products (made once, in SQL)" },
    'abuse-subscribers': { default: '200', help: "the attacker's open subscriptions in `subscriptions`" },
    'abuse-seconds': { default: '4', help: 'seconds per phase (10 for a steadier run)' },
    'abuse-rounds': { default: '2', help: 'attacked phases per attack, interleaved A B B A' },
    'abuse-attacks': { default: 'all', help: `some of ${ATTACKS.map((a) => a.name).join(',')}` },
  },
  prepare(args) {
    const settings = positiveIntegers(args, [...NUMBERS]);
    const names =
      args['abuse-attacks'] === 'all' ? ATTACKS.map((a) => a.name) : args['abuse-attacks']!.split(',');
    const attacks = names.map((name) => {
      const found = ATTACKS.find((a) => a.name === name.trim());
      if (!found)
        throw new Error(
          `--abuse-attacks: no attack ${name}; known: ${ATTACKS.map((a) => a.name).join(', ')}`,
        );
      return found;
    });
    const phases = attacks.length * (settings['abuse-rounds'] + Math.ceil(settings['abuse-rounds'] / 2));
    return {
      // In --duration points, for the run's time estimate: each phase also ramps and drains.
      points: () => Math.ceil((phases * (settings['abuse-seconds'] + 3)) / Number(args.duration)),
      run: async (context) => {
        context.log(
          `\nAbuse: ${attacks.length} attacks by one tenant, each while the list runs for ${settings['abuse-victims']} others`,
        );
        await record(context, 'abuse', () => runAbuse(context, attacks, settings));
      },
    };
  },
};

type Settings = Record<(typeof NUMBERS)[number], number>;

/** Tries the attack at each size until the API runs one; waits out 429s and 503s with Retry-After. */
async function probe(api: ApiProcess, token: string, attack: Attack): Promise<AbuseAttackResult> {
  const refusedSizes: AbuseAttackResult['refusedSizes'] = [];
  for (const size of attack.sizes) {
    const { query, variables } = attack.request(size);
    for (let attempt = 0; attempt < 10; attempt++) {
      const started = performance.now();
      const { status, body } = await graphql(api.url, token, query, variables);
      const ms = round(performance.now() - started, 1);
      const code = body?.errors?.[0]?.extensions?.code as string | undefined;
      if (body && typeof body === 'object' && 'data' in body)
        return {
          name: attack.name,
          title: attack.title,
          size,
          query,
          refusedSizes,
          probe: { status, ...(code && { code }), cost: body.extensions?.cost, ms },
        };
      const wait = retryAfterOf(null, body);
      if (status === 429 || status >= 500) {
        await sleep(1000 * Math.min(10, wait ?? 1));
        continue;
      }
      refusedSizes.push({ size, code: code ?? `HTTP ${status}` });
      break;
    }
  }
  const { query } = attack.request(attack.sizes.at(-1)!);
  const refused = refusedSizes.length
    ? refusedSizes.map((r) => `${r.code} at ${r.size}`).join(', ')
    : 'no answer with data after 10 tries';
  return { name: attack.name, title: attack.title, size: attack.sizes.at(-1)!, query, refusedSizes, refused };
}

async function runAbuse(
  context: SectionContext,
  attacks: Attack[],
  settings: Settings,
): Promise<AbuseResult> {
  const { log } = context;
  const seconds = settings['abuse-seconds'];
  const notes: string[] = [];
  const count = Math.min(settings['abuse-victims'], context.tenants.length);
  if (count < settings['abuse-victims'])
    notes.push(`Only ${count} victims: the data set has no more tenants (npm run bench:data).`);
  const victims = Array.from(
    { length: count },
    (_, i) => context.tenants[Math.floor((i * context.tenants.length) / count)]!,
  );
  const list = scenarioNamed('list');
  const template = context.templates.get('list');
  if (!template) throw new Error("The list scenario's SQL was not captured");
  const victimSql = template.statements.map((s) => s.text.trim().slice(0, 1000));

  log(`  the attacker tenant ${ABUSE_SLUG}: making or topping up ${settings['abuse-products']} products...`);
  const tenant = await ensureAttackerTenant(context.database.ownerUrl, settings['abuse-products']);
  if (tenant.productsAdded > 0)
    notes.push(
      `Added ${tenant.productsAdded.toLocaleString('en-US')} products to the attacker \`${ABUSE_SLUG}\` in ${tenant.seconds} s (without audit events).`,
    );
  const token = signToken(context.secret, tenant, 3 * 3600);
  const sampler = new BusySampler(
    context.server.rootUrl,
    databaseNameOf(context.database.ownerUrl),
    victimSql,
  );
  await sampler.connect();
  const api = await context.startApi().catch(async (error: unknown) => {
    await sampler.close();
    throw error;
  });
  try {
    log(
      `  API process ${api.pid}; ${count} victims on ${settings['abuse-victim-connections']} connections; attacker with ${tenant.products} products`,
    );
    // After the probes and after every attacked phase, the victims stopped: any statement
    // still running is the attacker's (subscription re-reads come in bursts, hence the
    // quiet while). The gate must be open again too.
    const drain = async (): Promise<number> => {
      const started = performance.now();
      let quietSince: number | undefined;
      while (performance.now() - started < DRAIN_LIMIT_SECONDS * 1000) {
        const { list: a, transaction: b, other: c } = await sampler.active();
        const now = performance.now();
        quietSince = a + b + c > 0 ? undefined : (quietSince ?? now);
        if (quietSince !== undefined && now - quietSince >= QUIET_MS) {
          const answer = await graphql(api.url, victims[0]!.token, list.query);
          if (answer.status === 200 && !answer.body?.errors) return round((now - started) / 1000, 1);
        }
        await sleep(50);
      }
      notes.push(
        `A drain after the attacker gave up after ${DRAIN_LIMIT_SECONDS} s: the next alone phase started with the attacker's work still running.`,
      );
      return DRAIN_LIMIT_SECONDS;
    };

    const probed: AbuseAttackResult[] = [];
    for (const attack of attacks) {
      const result = await probe(api, token, attack);
      probed.push(result);
      const refused = result.refusedSizes.map((r) => `${r.size} ${r.code}`).join(', ');
      log(
        `  probe ${attack.name.padEnd(16)} ${result.refused ? `refused before running: ${result.refused}` : `size ${result.size}${refused ? ` (refused: ${refused})` : ''}, HTTP ${result.probe!.status}${result.probe!.code ? ` ${result.probe!.code}` : ''}, ${result.probe!.ms} ms, cost ${JSON.stringify(result.probe!.cost)}`}`,
      );
    }
    await drain();

    const victimLoad = (tally: VictimTally) => {
      const checked: Scenario = {
        ...list,
        quickCheck: (body) => {
          const points = /"actualQueryCost":(\d+(?:\.\d+)?)/.exec(body);
          if (points) [tally.points, tally.costed] = [tally.points + Number(points[1]), tally.costed + 1];
          const db = /"databaseMs":(\d+(?:\.\d+)?)/.exec(body);
          if (db) [tally.reportedDbMs, tally.timed] = [tally.reportedDbMs + Number(db[1]), tally.timed + 1];
          if (list.quickCheck(body)) return true;
          const code =
            /"code":"([A-Z_]+)"/.exec(body)?.[1] ??
            /"message":"([^"]{0,60})/.exec(body)?.[1] ??
            (body.startsWith('{') ? 'no code' : 'not JSON');
          tally.errors[code] = (tally.errors[code] ?? 0) + 1;
          if (!body.includes('"data"')) tally.withoutData++;
          return false;
        },
      };
      return () => context.apiLoad(api, checked, victims, settings['abuse-victim-connections'], seconds);
    };

    const phases: AbusePhase[] = [];
    const runPhase = async (attack: Attack | undefined, size: number, compared: string[]) => {
      const tally: VictimTally = {
        errors: {},
        withoutData: 0,
        points: 0,
        costed: 0,
        reportedDbMs: 0,
        timed: 0,
      };
      let attacker: AbusePhase['attacker'];
      let victimsMeasured: Measured;
      let busyMs: Busy;
      if (!attack) {
        sampler.start();
        victimsMeasured = await context.measure(api.pid, victimLoad(tally));
        busyMs = await sampler.stop();
      } else {
        const { query, variables } = attack.request(size);
        const attacking = startAttacker({
          url: api.url,
          token,
          body: JSON.stringify({ query, variables }),
          loops: settings['abuse-attacker-connections'],
          seconds: RAMP_SECONDS + seconds + 0.5,
          subscribers: attack.subscribers ? settings['abuse-subscribers'] : 0,
        });
        await attacking.ready;
        sampler.start();
        await sleep(RAMP_SECONDS * 1000);
        victimsMeasured = await context.measure(api.pid, victimLoad(tally));
        const figures = await attacking.done;
        const drainSeconds = await drain();
        busyMs = await sampler.stop();
        attacker = { ...figures, drainSeconds };
      }
      const tallied = Object.values(tally.errors).reduce((a, b) => a + b, 0);
      const unanswered = victimsMeasured.errors - tallied - tally.withoutData;
      if (unanswered > 0) tally.errors['no answer'] = unanswered;
      const phase: AbusePhase = {
        kind: attack ? 'attacked' : 'alone',
        attacks: attack ? [attack.name] : compared,
        victims: victimsMeasured,
        victimErrors: tally.errors,
        victimPoints: tally.costed ? round(tally.points / tally.costed, 1) : null,
        victimReportedDbMs: tally.timed ? round(tally.reportedDbMs / tally.timed, 3) : null,
        busyMs,
        ...(attacker && { attacker }),
      };
      phases.push(phase);
      log(describePhase(phase));
      return phase;
    };

    // Warm-up of the victims' path, not recorded.
    await context.apiLoad(api, list, victims, settings['abuse-victim-connections'], 3);
    let previous: AbusePhase | undefined;
    for (const result of probed.filter((r) => !r.refused)) {
      const attack = attacks.find((a) => a.name === result.name)!;
      log(
        `  ${attack.name}: ${result.query.length > 140 ? `${result.query.slice(0, 140)}...` : result.query}`,
      );
      for (const [i, side] of phaseOrder(settings['abuse-rounds']).entries()) {
        if (side === 'candidate') previous = await runPhase(attack, result.size, []);
        // One alone phase between two attacks serves both.
        else if (i === 0 && previous?.kind === 'alone') previous.attacks.push(attack.name);
        else previous = await runPhase(undefined, 0, [attack.name]);
      }
    }
    const aloneErrors: Record<string, number> = {};
    for (const phase of phases.filter((p) => p.kind === 'alone'))
      for (const [code, n] of Object.entries(phase.victimErrors))
        aloneErrors[code] = (aloneErrors[code] ?? 0) + n;
    if (total(aloneErrors) > 0)
      notes.push(
        `The victims had errors without the attacker too (${codes(aloneErrors)})${aloneErrors.RATE_LIMITED ? ': RATE_LIMITED means their own budgets ran out, so spread the load over more of them (--abuse-victims)' : ''}.`,
      );
    const removed = await deleteCreated(context.database.ownerUrl, tenant.tenantId, MARKER);
    if (removed > 0) notes.push(`Deleted the ${removed} products the attacker's createProduct loop made.`);
    return {
      victims: count,
      victimConnections: settings['abuse-victim-connections'],
      attackerConnections: settings['abuse-attacker-connections'],
      subscribers: settings['abuse-subscribers'],
      attacker: {
        slug: ABUSE_SLUG,
        products: tenant.products,
        productsAdded: tenant.productsAdded,
        loadSeconds: tenant.seconds,
      },
      secondsPerPhase: seconds,
      rounds: settings['abuse-rounds'],
      sampleMs: SAMPLE_MS,
      attacks: probed,
      phases,
      notes,
    };
  } finally {
    await sampler.close();
    await context.stopApi(api);
  }
}

function describePhase(phase: AbusePhase): string {
  const v = phase.victims;
  const errors = Object.entries(phase.victimErrors)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const line = `  ${phase.kind.padEnd(8)} victims ${String(v.throughput).padStart(7)}/s  p50 ${v.latencyMs.p50} p99 ${v.latencyMs.p99} ms  errors ${errors || 0}  db list ${phase.busyMs.list} begin/commit ${phase.busyMs.transaction} other ${phase.busyMs.other} ms`;
  const a = phase.attacker;
  if (!a) return line;
  const codes = Object.entries(a.codes)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const subs = a.subscriptions
    ? `  subscriptions ${a.subscriptions.open} open, ${a.subscriptions.failed} failed, ${a.subscriptions.events} events, ${a.subscriptions.ended} ended`
    : '';
  return `${line}\n           attacker ran ${a.ran}, throttled ${a.throttled}, refused ${a.refused}, failed ${a.failed}${codes ? ` (${codes})` : ''}; ${a.points} points${a.reportedDbMs !== null ? `, db ${a.reportedDbMs} ms reported` : ''}; slept ${a.sleptSeconds} s, drained in ${a.drainSeconds} s${subs}`;
}
