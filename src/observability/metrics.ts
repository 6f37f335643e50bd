// The Prometheus metrics of one process (prom-client), in a registry of its own so that
// several servers in one process (the tests) never share counters.
//
// Every label has a fixed, small set of values: routes and methods from a list, HTTP
// statuses, operation names from the trusted documents (operation-names.ts), outcome
// codes from the error catalogue, task names from our job list. Tenant, user and request
// ids are never labels: per-tenant usage is in usage-top.ts, read through the admin
// endpoint, not scraped.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '../errors/catalogue.ts';

/** Seconds; from a fast cached read to the statement timeout's neighbourhood. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const ROUTES = new Map([
  ['/graphql', 'graphql'],
  ['/healthz', 'healthz'],
  ['/readyz', 'readyz'],
  ['/graphiql', 'graphiql'],
]);
const METHODS = new Set(['GET', 'POST', 'OPTIONS', 'HEAD']);
const THROTTLES = new Set(['RATE_LIMITED', 'CONCURRENCY_LIMITED']);

export const routeLabel = (path: string): string => ROUTES.get(path) ?? 'other';
export const methodLabel = (method: string): string => (METHODS.has(method) ? method : 'other');

/** `OK`, a catalogue code, or `UNKNOWN` (a code of no catalogue entry): never free text. */
export function outcomeLabel(codes: readonly string[] | undefined): string {
  if (!codes || codes.length === 0) return 'OK';
  const code = codes[0]!;
  return isErrorCode(code) ? code : 'UNKNOWN';
}

/** What one finished request contributes. */
export interface ObservedRequest {
  route: string;
  method: string;
  status: number;
  seconds: number;
  /** Only for GraphQL requests: the bounded operation label. */
  operation?: string;
  /** The codes of the errors the response carried, most severe first. */
  errorCodes?: readonly string[];
  actualCost?: number;
}

export interface Metrics {
  registry: Registry;
  observe(request: ObservedRequest): void;
  /** Counted when a job attempt ends; `task` is one of our task names. */
  observeJob(task: string, result: 'success' | 'error' | 'failed'): void;
}

export interface MetricsSources {
  pool?: { totalCount: number; idleCount: number; waitingCount: number; options: { max?: number } };
  databaseGateOpen?: () => boolean;
  /** Open GraphQL subscriptions of this process (realtime); unset: the gauge reads 0. */
  openSubscriptions?: () => number;
  /** Jobs in the queue by state, read from PostgreSQL on each scrape. */
  jobQueue?: () => Promise<Record<string, number>>;
  /** The largest single tenant's share of each resource over the usage window (usage-top.ts). */
  usageShares?: () => Record<string, number> & { tenants: number };
}

export function createMetrics(sources: () => MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: 'tenantgraph_http_requests_total',
    help: 'HTTP requests answered, by route (graphql, healthz, readyz, graphiql, other), method and status.',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const operations = new Counter({
    name: 'tenantgraph_graphql_requests_total',
    help: "GraphQL requests, by operation (a trusted document's name, or other, anonymous, none) and outcome (OK or the first error code).",
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tenantgraph_graphql_request_duration_seconds',
    help: "Time from the request's arrival to the last byte of its response, by operation and outcome.",
    labelNames: ['operation', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const cost = new Counter({
    name: 'tenantgraph_graphql_cost_points_total',
    help: 'Cost points consumed (the actual cost charged to budgets), by operation.',
    labelNames: ['operation'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'tenantgraph_graphql_errors_total',
    help: 'Errors in GraphQL responses, by code (a response may carry several).',
    labelNames: ['code'],
    registers: [registry],
  });
  const throttled = new Counter({
    name: 'tenantgraph_throttled_requests_total',
    help: 'Requests refused by the budgets (RATE_LIMITED) or the per-tenant bulkhead (CONCURRENCY_LIMITED).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const statementTimeouts = new Counter({
    name: 'tenantgraph_statement_timeouts_total',
    help: 'Statements cancelled by STATEMENT_TIMEOUT_MS (QUERY_TIMEOUT errors).',
    registers: [registry],
  });
  const jobs = new Counter({
    name: 'tenantgraph_jobs_total',
    help: 'Job attempts that ended, by task and result: success; error (any failed attempt); failed (a failed attempt that was the last one).',
    labelNames: ['task', 'result'],
    registers: [registry],
  });

  new Gauge({
    name: 'tenantgraph_db_pool_connections',
    help: "Connections of the API's pool, by state: total (open), idle, max (PG_POOL_MAX).",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { pool } = sources();
      if (!pool) return;
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'max' }, pool.options.max ?? 0);
    },
  });
  new Gauge({
    name: 'tenantgraph_db_pool_waiting_requests',
    help: "Requests waiting for a connection of the API's pool.",
    registers: [registry],
    collect() {
      const { pool } = sources();
      if (pool) this.set(pool.waitingCount);
    },
  });
  new Gauge({
    name: 'tenantgraph_db_gate_open',
    help: '1 while the database gate is open; 0 while it answers 503 DATABASE_UNAVAILABLE because PostgreSQL cannot be reached.',
    registers: [registry],
    collect() {
      const { databaseGateOpen } = sources();
      if (databaseGateOpen) this.set(databaseGateOpen() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tenantgraph_open_subscriptions',
    help: 'GraphQL subscriptions open on this process (0 where realtime is not served).',
    registers: [registry],
    collect() {
      this.set(sources().openSubscriptions?.() ?? 0);
    },
  });
  new Gauge({
    name: 'tenantgraph_jobs_queued',
    help: 'Jobs in the queue by state: ready (due), scheduled (due later), running (locked by a worker), failed (no attempts left, kept for inspection).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const { jobQueue } = sources();
      if (!jobQueue) return;
      try {
        for (const [state, count] of Object.entries(await jobQueue())) this.set({ state }, count);
      } catch {
        // An unreachable database shows as tenantgraph_db_gate_open 0; a scrape still answers.
        this.reset();
      }
    },
  });

  const shareOf = {
    requests: 'requests',
    costPoints: 'cost',
    databaseMs: 'database_time',
    errors: 'errors',
  } as const;
  new Gauge({
    name: 'tenantgraph_tenant_largest_share',
    help: 'The largest share any single tenant has of requests, cost, database_time or errors over the last 5 minutes (0 to 1); npm run tenants:top names it.',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      const shares = sources().usageShares?.();
      if (!shares) return;
      for (const [key, resource] of Object.entries(shareOf)) this.set({ resource }, shares[key] ?? 0);
    },
  });
  new Gauge({
    name: 'tenantgraph_tenants_active',
    help: 'Verified tenants with at least one request over the last 5 minutes.',
    registers: [registry],
    collect() {
      const shares = sources().usageShares?.();
      if (shares) this.set(shares.tenants);
    },
  });

  return {
    registry,
    observe(request) {
      httpRequests.inc({ route: request.route, method: request.method, status: String(request.status) });
      if (request.operation === undefined) return;
      const outcome = outcomeLabel(request.errorCodes);
      const labels = { operation: request.operation, outcome };
      operations.inc(labels);
      duration.observe(labels, request.seconds);
      if (request.actualCost) cost.inc({ operation: request.operation }, request.actualCost);
      for (const code of request.errorCodes ?? []) {
        const bounded = isErrorCode(code) ? code : 'UNKNOWN';
        errors.inc({ code: bounded });
        if (THROTTLES.has(bounded)) throttled.inc({ reason: bounded });
        if (bounded === 'QUERY_TIMEOUT') statementTimeouts.inc();
      }
    },
    observeJob(task, result) {
      jobs.inc({ task, result });
    },
  };
}
