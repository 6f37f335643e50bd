// The realtime section: subscribers across tenants, writes at a steady rate, and what
// each subscriber receives.
//
// Every subscriber is a graphql-ws client on a websocket of its own (as a browser tab
// would be), subscribed to `productChanged` with its tenant's member token. Writes are
// inserts, each its own transaction as the owner, round-robin over the tenants, with a
// unique marker as the product's name: an event is matched to its write by the name, so
// each delivery has a latency (from the write's COMMIT acknowledged to the event parsed
// by the client, both clocks of this process), a duplicate is seen as one, and an event
// whose product is not of the subscriber's tenant counts as a cross-tenant delivery.
// Lost: deliveries expected (each write, times its tenant's subscribers) and never
// received: after the last write the section waits until every delivery has arrived or
// none has for STALL_MS (a backlog still draining is late, not lost). CPU of the API and
// of PostgreSQL from the first write to the last delivery, per delivery. Memory per open subscription: the API
// process's heap and RSS after a full GC, before the subscribers connect and once all
// are subscribed, divided by their number. The products inserted are deleted at the end.
import pg from 'pg';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { ApiProcess } from './api.ts';
import type { Target } from './measured.ts';
import { UsageSampler, type UsageReport } from './sampler.ts';
import type { BenchTenant } from './scenarios.ts';
import { round, summarize, type LatencySummary } from './stats.ts';

/** After the last write, deliveries count as lost once none arrived for this long. */
const STALL_MS = 3_000;
const MARKER = 'bench-rt';
/** Subscribe operations in flight while the subscribers connect. */
const SUBSCRIBE_CONCURRENCY = 4;

export interface RealtimeResult {
  tenants: number;
  subscribers: number;
  writesPerSecond: number;
  seconds: number;
  /** From the first socket opened to the last SUBSCRIBED received, s. */
  subscribeSeconds: number;
  writes: number;
  /** Writes that failed (not counted as expected deliveries). */
  writeErrors: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  crossTenant: number;
  /** Subscriptions ended or sockets closed while measuring. */
  ended: number;
  /** Events that came with errors instead of the row (their reading failed), by code. */
  erroredEvents: Record<string, number>;
  latencyMs: LatencySummary;
  /** From the first write to the last delivery. */
  usage: UsageReport;
  /** CPU per delivered event, ms: the API's, and PostgreSQL's (the re-read as each subscriber). */
  apiCpuMsPerDelivery: number | null;
  dbCpuMsPerDelivery: number | null;
  memory: {
    before: MemoryFigures;
    after: MemoryFigures;
    perSubscriptionKb: { heap: number; rss: number };
  } | null;
  notes: string[];
}

interface MemoryFigures {
  heapUsedMb: number;
  rssMb: number;
}

export interface RealtimeOptions {
  ownerUrl: string;
  tenants: BenchTenant[];
  tenantCount: number;
  subscribersPerTenant: number;
  writesPerSecond: number;
  seconds: number;
  startApi(): Promise<ApiProcess>;
  /** The embedded PostgreSQL's postmaster, for its CPU; undefined: not measured. */
  dbPid: number | undefined;
  /** Whether the API is one process (memory is read from it). */
  singleProcess: boolean;
  log(line: string): void;
}

const QUERY = 'subscription BenchProductChanged { productChanged { event product { name tenantId } } }';

interface Subscriber {
  tenantId: string;
  client: Client;
  seen: Set<string>;
}

async function memoryOf(api: ApiProcess): Promise<MemoryFigures> {
  const { usage, afterGc } = await api.memory();
  const figures = afterGc ?? usage;
  return { heapUsedMb: round(figures.heapUsed / 1048576, 1), rssMb: round(figures.rss / 1048576, 1) };
}

export async function runRealtime(options: RealtimeOptions): Promise<RealtimeResult> {
  const { log } = options;
  const tenants = options.tenants.slice(0, options.tenantCount);
  if (tenants.length < options.tenantCount)
    throw new Error(
      `The realtime section needs ${options.tenantCount} tenants; the data has ${tenants.length}.`,
    );
  const notes: string[] = [];
  const api = await options.startApi();
  const writer = new pg.Pool({ connectionString: options.ownerUrl, max: 4 });
  const subscribers: Subscriber[] = [];
  /** marker -> [tenant, commit time] */
  const written = new Map<string, { tenantId: string; committedAt: number }>();
  const early: Array<{ subscriber: Subscriber; name: string; at: number }> = [];
  const latencies: number[] = [];
  let duplicates = 0;
  let crossTenant = 0;
  let ended = 0;
  let measuring = false;
  const erroredEvents: Record<string, number> = {};

  const receive = (subscriber: Subscriber, data: any, at: number) => {
    const change = data?.productChanged;
    if (!change || change.event !== 'CREATED') return;
    const { name, tenantId } = change.product ?? {};
    if (typeof name !== 'string' || !name.startsWith(MARKER)) return;
    if (tenantId !== subscriber.tenantId) crossTenant++;
    if (subscriber.seen.has(name)) return void duplicates++;
    subscriber.seen.add(name);
    const write = written.get(name);
    // The event can overtake the COMMIT acknowledgement: matched once that is known.
    if (!write) return void early.push({ subscriber, name, at });
    if (write.tenantId !== subscriber.tenantId) crossTenant++;
    latencies.push(at - write.committedAt);
  };

  try {
    const before = options.singleProcess ? await memoryOf(api) : undefined;
    const wsUrl = `${api.url.replace(/^http/, 'ws')}/graphql`;
    const subscribeStarted = performance.now();
    let subscribed = 0;
    // Clients arrive a few at a time, as they would: all at once, a tenant's burst of
    // subscribe operations would meet its bulkhead (TENANT_CONCURRENCY) like any burst.
    const arrivals = tenants.flatMap((tenant) =>
      Array.from({ length: options.subscribersPerTenant }, () => tenant),
    );
    const subscribeOne = (tenant: BenchTenant) =>
      new Promise<void>((resolve, reject) => {
        const client = createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 0,
          connectionParams: { Authorization: `Bearer ${tenant.token}` },
          onNonLazyError: reject,
        });
        const subscriber: Subscriber = { tenantId: tenant.tenantId, client, seen: new Set() };
        subscribers.push(subscriber);
        let first = true;
        client.subscribe(
          { query: QUERY },
          {
            next: (result) => {
              const at = performance.now();
              if (first) {
                first = false;
                if (result.errors)
                  return reject(new Error(`Subscribing failed: ${JSON.stringify(result.errors)}`));
                subscribed++;
                return resolve();
              }
              if (result.errors) {
                for (const error of result.errors) {
                  const code = String(
                    (error.extensions as { code?: unknown } | undefined)?.code ?? error.message.slice(0, 60),
                  );
                  erroredEvents[code] = (erroredEvents[code] ?? 0) + 1;
                }
              }
              receive(subscriber, result.data, at);
            },
            error: (error) => {
              if (measuring) ended++;
              reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
            },
            complete: () => {
              if (measuring) ended++;
            },
          },
        );
      });
    await Promise.all(
      Array.from({ length: SUBSCRIBE_CONCURRENCY }, async () => {
        for (let tenant = arrivals.shift(); tenant; tenant = arrivals.shift()) await subscribeOne(tenant);
      }),
    );
    const subscribeSeconds = round((performance.now() - subscribeStarted) / 1000, 2);
    log(`  ${subscribed} subscribers on ${tenants.length} tenants, subscribed in ${subscribeSeconds} s`);
    const after = options.singleProcess ? await memoryOf(api) : undefined;

    measuring = true;
    const sampler = new UsageSampler(api.pid, options.dbPid);
    sampler.start();
    const total = Math.round(options.writesPerSecond * options.seconds);
    const interval = 1000 / options.writesPerSecond;
    const start = performance.now();
    let writeErrors = 0;
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const tenant = tenants[i % tenants.length]!;
      const name = `${MARKER}-${process.pid}-${i}`;
      pending.push(
        writer
          .query('insert into app_public.products (tenant_id, name, price) values ($1, $2, 1)', [
            tenant.tenantId,
            name,
          ])
          .then(() => void written.set(name, { tenantId: tenant.tenantId, committedAt: performance.now() }))
          .catch(() => void writeErrors++),
      );
    }
    await Promise.all(pending);
    for (const { subscriber, name, at } of early.splice(0)) {
      const write = written.get(name);
      if (!write) continue;
      if (write.tenantId !== subscriber.tenantId) crossTenant++;
      latencies.push(Math.max(0, at - write.committedAt));
    }
    const expectedOf = () =>
      [...written.values()].reduce(
        (sum, write) => sum + subscribers.filter((s) => s.tenantId === write.tenantId).length,
        0,
      );
    const expected = expectedOf();
    const deliveredCount = () =>
      subscribers.reduce(
        (sum, s) => sum + [...s.seen].filter((name) => written.get(name)?.tenantId === s.tenantId).length,
        0,
      );
    let lastCount = -1;
    let lastProgress = performance.now();
    for (
      let count = deliveredCount();
      count < expected && performance.now() - lastProgress < STALL_MS;
      count = deliveredCount()
    ) {
      if (count !== lastCount) [lastCount, lastProgress] = [count, performance.now()];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const usage = sampler.stop();
    // Late arrivals matched after the grace period started.
    for (const { subscriber, name, at } of early.splice(0)) {
      const write = written.get(name);
      if (write) latencies.push(Math.max(0, at - write.committedAt));
      if (write && write.tenantId !== subscriber.tenantId) crossTenant++;
    }
    measuring = false;
    const delivered = deliveredCount();
    const perDelivery = (percent: number | null) =>
      percent === null || delivered === 0
        ? null
        : round(((percent / 100) * usage.seconds * 1000) / delivered, 3);
    if (writeErrors > 0) notes.push(`${writeErrors} writes failed and are not counted.`);
    const memory =
      before && after
        ? {
            before,
            after,
            perSubscriptionKb: {
              heap: round(((after.heapUsedMb - before.heapUsedMb) * 1024) / subscribed, 1),
              rss: round(((after.rssMb - before.rssMb) * 1024) / subscribed, 1),
            },
          }
        : null;
    return {
      tenants: tenants.length,
      subscribers: subscribed,
      writesPerSecond: options.writesPerSecond,
      seconds: options.seconds,
      subscribeSeconds,
      writes: written.size,
      writeErrors,
      expected,
      delivered,
      lost: expected - delivered,
      duplicates,
      crossTenant,
      ended,
      erroredEvents,
      latencyMs: summarize(latencies),
      usage,
      apiCpuMsPerDelivery: perDelivery(usage.apiCpuPercent),
      dbCpuMsPerDelivery: perDelivery(usage.dbCpuPercent),
      memory,
      notes,
    };
  } finally {
    // graphql-ws's dispose() closes the socket and returns nothing to wait for.
    for (const subscriber of subscribers) void subscriber.client.dispose();
    await writer
      .query(`delete from app_public.products where name like $1`, [`${MARKER}-${process.pid}-%`])
      .catch(() => {});
    await writer.end();
    await api.stop();
  }
}

export function realtimeTargets(result: RealtimeResult | { error: string }): Target[] {
  if ('error' in result)
    return [
      {
        name: 'realtime',
        goal: 'runs',
        measured: `failed: ${result.error.slice(0, 200)}`,
        ratio: null,
        met: false,
      },
    ];
  const setting = `${result.subscribers} subscribers, ${result.tenants} tenants, ${result.writesPerSecond} writes/s`;
  return [
    {
      name: `realtime: events lost (${setting})`,
      goal: '0',
      measured: `${result.lost} of ${result.expected}`,
      ratio: null,
      met: result.lost === 0,
    },
    {
      name: 'realtime: cross-tenant deliveries',
      goal: '0',
      measured: String(result.crossTenant),
      ratio: null,
      met: result.crossTenant === 0,
    },
    {
      name: 'realtime: delivery latency from commit to client',
      goal: 'p99 < 250 ms',
      measured: `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      ratio: round(result.latencyMs.p99 / 250, 3),
      met: result.latencyMs.p99 < 250,
    },
    ...(result.memory
      ? [
          {
            name: 'realtime: API memory per open subscription',
            goal: '<= 50 KB heap',
            measured: `${result.memory.perSubscriptionKb.heap} KB heap, ${result.memory.perSubscriptionKb.rss} KB RSS`,
            ratio: round(result.memory.perSubscriptionKb.heap / 50, 3),
            met: result.memory.perSubscriptionKb.heap <= 50,
          },
        ]
      : []),
  ];
}

/** The section of the report (bench/lib/report.ts places it). */
export function renderRealtime(result: RealtimeResult | { error: string }): string[] {
  const out = ['\n## Realtime\n'];
  if ('error' in result) return [...out, `The section failed: ${result.error}`];
  out.push(
    `${result.subscribers} graphql-ws subscribers, one websocket each, ${result.subscribers / result.tenants} per tenant over ${result.tenants} tenants, subscribed to \`productChanged\` ` +
      `(in ${result.subscribeSeconds} s). Inserts at ${result.writesPerSecond}/s for ${result.seconds} s, round-robin over the tenants, each its own transaction; ` +
      `latency from the write's COMMIT acknowledged to the event parsed by the client (one clock). An API process of its own.`,
  );
  for (const note of result.notes) out.push(`\n> ${note}`);
  const errored = Object.entries(result.erroredEvents ?? {});
  if (errored.length)
    out.push(
      `\n> Events delivered with errors instead of the row: ${errored.map(([code, n]) => `${code} ${n}`).join(', ')}.`,
    );
  out.push(
    '',
    '| writes | deliveries expected | delivered | lost | duplicates | cross-tenant | ended early | p50 ms | p95 ms | p99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.writes} | ${result.expected} | ${result.delivered} | ${result.lost} | ${result.duplicates} | ${result.crossTenant} | ${result.ended} | ${result.latencyMs.p50} | ${result.latencyMs.p95} | ${result.latencyMs.p99} | ${result.latencyMs.max} |`,
    '',
    `From the first write to the last delivery (${result.usage.seconds} s): API ${result.usage.apiCpuPercent ?? '–'}% of a core, PostgreSQL ${result.usage.dbCpuPercent ?? '–'}%, this process ${result.usage.generatorCpuPercent}%, others ${result.usage.otherCpuPercent}%; ` +
      `per delivered event ${result.apiCpuMsPerDelivery ?? '–'} ms of API CPU and ${result.dbCpuMsPerDelivery ?? '–'} ms of PostgreSQL CPU (each event is read again as each subscriber, in a transaction of its own).`,
  );
  if (result.memory) {
    const { before, after, perSubscriptionKb } = result.memory;
    out.push(
      '',
      `API memory after a full GC: heap ${before.heapUsedMb} → ${after.heapUsedMb} MB, RSS ${before.rssMb} → ${after.rssMb} MB with ${result.subscribers} subscriptions open: ` +
        `${perSubscriptionKb.heap} KB of heap and ${perSubscriptionKb.rss} KB of RSS per open subscription (its socket included).`,
    );
  }
  return out;
}
