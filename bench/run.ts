// `npm run bench`: the API against its database ceiling, on the data `npm run bench:data`
// loaded, every figure a ratio measured in this one run. See bench/README.md.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { projectRoot } from '../src/database/migrations.ts';
import { readEnv } from '../src/config.ts';
import { accountabilityTargets, ensureAuditTriggerEnabled, runAccountability } from './lib/accountability.ts';
import { startApiProcess, type ApiProcess } from './lib/api.ts';
import { chartPoints, chartTitle, renderChart } from './lib/chart.ts';
import { measureColdStart } from './lib/cold-start.ts';
import { prepareDatabase } from '../src/database/migrations.ts';
import { BENCH_DATABASE, benchDatabaseExists, openBenchServer, recreateDatabase, SMALL_BENCH_DATABASE, type BenchServer } from './lib/database.ts';
import { explainAnalyze } from './lib/explain.ts';
import { loadBenchData, loadedShape, type LoadedShape } from './lib/load-data.ts';
import { pgbenchAvailable, runHttp, runPgbench, runSql, type LoadResult, type Statement } from './lib/load.ts';
import { noisyTargets, runNoisyNeighbour } from './lib/noisy-neighbour.ts';
import { summarizeProfile } from './lib/profile.ts';
import { realtimeTargets, runRealtime } from './lib/realtime.ts';
import { renderMarkdown } from './lib/report.ts';
import type { BenchResults, Measured, ScenarioResult, Target } from './lib/results.ts';
import { peakRssOfTree, postmasterPid, UsageSampler } from './lib/sampler.ts';
import { requestValues, SCENARIOS, scenarioNamed, type BenchTenant, type Scenario } from './lib/scenarios.ts';
import { mainStatements, pgbenchScript, SET_CONFIG_SQL, settingsJson, templateFrom, transaction, type SqlTemplate } from './lib/sql-templates.ts';
import { ratio, round } from './lib/stats.ts';
import { graphql, nodeIdEncoder, readTenants, signToken } from './lib/tenants.ts';

const SECTIONS = ['matrix', 'pgbench', 'rls', 'scale', 'breakdown', 'profile', 'noisy', 'accountability', 'realtime', 'cold-start'] as const;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    scenarios: { type: 'string', default: SCENARIOS.map((scenario) => scenario.name).join(',') },
    concurrency: { type: 'string', default: '1,4,16,64' },
    database: { type: 'string', default: BENCH_DATABASE },
    pool: { type: 'string' },
    'api-processes': { type: 'string', default: '1' },
    'api-env': { type: 'string', multiple: true, default: [] },
    'api-node-option': { type: 'string', multiple: true, default: [] },
    victims: { type: 'string', default: '499' },
    'victim-connections': { type: 'string', default: '4' },
    'noisy-rounds': { type: 'string', default: '2' },
    'accountability-tenants': { type: 'string', default: '300' },
    'accountability-connections': { type: 'string', default: '16' },
    'accountability-rounds': { type: 'string', default: '2' },
    'realtime-tenants': { type: 'string', default: '50' },
    'realtime-subscribers': { type: 'string', default: '10' },
    'realtime-writes': { type: 'string', default: '50' },
    skip: { type: 'string', default: '' },
    out: { type: 'string', default: path.join(projectRoot, 'bench/results') },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`Usage: npm run bench -- [options]
  --duration S          seconds per measured point (default 5)
  --scenarios a,b       of ${SCENARIOS.map((scenario) => scenario.name).join(', ')} (default: all)
  --concurrency 1,4     connections per point (default 1,4,16,64)
  --database NAME       the data set (default ${BENCH_DATABASE}, loaded by npm run bench:data)
  --pool N              API connection pool size (default: PG_POOL_MAX, 10)
  --api-processes N     API processes sharing the port (node:cluster; default 1)
  --api-env NAME=VALUE  extra environment for the API process (repeatable), e.g. LOG_LEVEL=warn
  --api-node-option X   a node flag for the API process (repeatable), e.g. --api-node-option=--max-old-space-size=128
  --victims N           noisy: tenants listing products while one other floods (default 499)
  --victim-connections C  noisy: the victims' connections (default 4)
  --noisy-rounds R      noisy: phases with the noisy tenant, each between two without (default 2)
  --accountability-tenants N      accountability: tenants the requests are spread over, one API key each (default 300)
  --accountability-connections C  accountability: connections of every phase (default 16)
  --accountability-rounds R       accountability: phases without the audit trigger (with keys), each between two with (with tokens) (default 2)
  --realtime-tenants N        realtime: tenants subscribed (default 50)
  --realtime-subscribers S    realtime: subscribers per tenant, one websocket each (default 10)
  --realtime-writes W         realtime: inserts per second, round-robin over the tenants (default 50)
  --skip a,b            sections to leave out: ${SECTIONS.join(', ')}
  --out DIR             where results go (default bench/results)
`);
  process.exit(0);
}

const seconds = Number(args.duration);
const concurrency = args.concurrency.split(',').map(Number);
const selected = args.scenarios.split(',').map((name) => scenarioNamed(name.trim()));
const skip = new Set(args.skip.split(',').filter(Boolean));
for (const section of skip) if (!(SECTIONS as readonly string[]).includes(section)) throw new Error(`Unknown section ${section}; known: ${SECTIONS.join(', ')}`);
const apiEnv = Object.fromEntries(args['api-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
const apiProcesses = Number(args['api-processes']);
const apiNodeOptions = args['api-node-option'];
if (!Number.isFinite(seconds) || seconds <= 0 || concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--duration and --concurrency must be positive numbers');
const noisySettings = { victims: Number(args.victims), victimConnections: Number(args['victim-connections']), rounds: Number(args['noisy-rounds']) };
if (Object.values(noisySettings).some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--victims, --victim-connections and --noisy-rounds must be positive integers');
const accountabilitySettings = { count: Number(args['accountability-tenants']), connections: Number(args['accountability-connections']), rounds: Number(args['accountability-rounds']) };
if (Object.values(accountabilitySettings).some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--accountability-tenants, --accountability-connections and --accountability-rounds must be positive integers');
const realtimeSettings = { tenantCount: Number(args['realtime-tenants']), subscribersPerTenant: Number(args['realtime-subscribers']), writesPerSecond: Number(args['realtime-writes']) };
if (Object.values(realtimeSettings).some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--realtime-tenants, --realtime-subscribers and --realtime-writes must be positive integers');

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

// ---------------------------------------------------------------------------------------
// Measurements with resource usage

async function measure(apiPid: number | undefined, dbPid: number | undefined, run: () => Promise<LoadResult>, generatorIsThisProcess = true): Promise<Measured> {
  const sampler = new UsageSampler(apiPid, dbPid);
  sampler.start();
  const outcome = await run();
  const usage = sampler.stop(generatorIsThisProcess);
  const perRequest = (percent: number | null) => (percent === null || outcome.requests === 0 ? null : round(((percent / 100) * usage.seconds * 1000) / outcome.requests, 3));
  return { ...outcome, usage, apiCpuMsPerRequest: perRequest(usage.apiCpuPercent), dbCpuMsPerRequest: perRequest(usage.dbCpuPercent) };
}

function describe(label: string, m: Measured): string {
  const cpu = [m.usage.apiCpuPercent !== null && `api ${m.usage.apiCpuPercent}%`, m.usage.dbCpuPercent !== null && `db ${m.usage.dbCpuPercent}%`, `other ${m.usage.otherCpuPercent}%`].filter(Boolean).join(' ');
  return `${label.padEnd(12)} ${String(m.throughput).padStart(8)}/s  p50 ${m.latencyMs.p50} p95 ${m.latencyMs.p95} p99 ${m.latencyMs.p99} ms  errors ${m.errors}  cpu ${cpu}`;
}

// ---------------------------------------------------------------------------------------
// Requests

function httpRequests(scenario: Scenario, tenants: BenchTenant[]) {
  return () => {
    const tenant = pick(tenants);
    return {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.token}` },
      body: JSON.stringify({ query: scenario.query, variables: scenario.variables(tenant, requestValues(tenant)) }),
    };
  };
}

function apiLoad(api: ApiProcess, scenario: Scenario, tenants: BenchTenant[], connections: number, duration = seconds) {
  return runHttp({ url: api.url, path: '/graphql', method: 'POST', connections, durationSeconds: duration, next: httpRequests(scenario, tenants), check: scenario.quickCheck });
}

function ceilingLoad(url: string, template: SqlTemplate, tenants: BenchTenant[], connections: number, duration = seconds) {
  return runSql({
    url,
    connections,
    durationSeconds: duration,
    // What @dataplan/pg runs once on every new connection.
    setup: ['set jit_optimize_above_cost = -1'],
    next: () => transaction(template, requestValues(pick(tenants))),
  });
}

// ---------------------------------------------------------------------------------------
// Set-up: data, tokens, captured SQL

async function benchTenants(ownerUrl: string, secret: string, encode: (tenantId: string, rowId: string) => string): Promise<BenchTenant[]> {
  const rows = await readTenants(ownerUrl);
  // Valid for the whole run; one per tenant, each verified by the API on every request.
  return rows.map((row) => ({ ...row, token: signToken(secret, row, 3 * 3600), productNodeId: encode(row.tenantId, row.productId) }));
}

async function captureTemplates(authenticatorUrl: string, ownerUrl: string, secret: string) {
  const api = await startApiProcess({ authenticatorUrl, secret, poolSize: 1, processes: 1, capture: true, env: apiEnv });
  try {
    const [first] = await readTenants(ownerUrl);
    if (!first) throw new Error('The bench database has no tenants');
    const token = signToken(secret, first, 600);
    const probe = await graphql(api.url, token, `query Probe($id: UUID!) { products(first: 1, condition: { rowId: $id }) { nodes { id rowId } } }`, { id: first.productId });
    const example = probe.body?.data?.products?.nodes?.[0];
    if (!example) throw new Error(`Cannot read a product through the API: ${JSON.stringify(probe.body)}`);
    const encode = nodeIdEncoder({ id: example.id, tenantId: first.tenantId, rowId: first.productId });
    const tenant: BenchTenant = { ...first, token, productNodeId: encode(first.tenantId, first.productId) };
    await api.captured();
    const templates = new Map<string, SqlTemplate>();
    for (const scenario of SCENARIOS) {
      const values = requestValues(tenant);
      const response = await graphql(api.url, token, scenario.query, scenario.variables(tenant, values));
      const problem = response.status !== 200 ? `HTTP ${response.status}` : response.body.errors ? JSON.stringify(response.body.errors) : scenario.check(response.body.data);
      if (problem) throw new Error(`Scenario ${scenario.name} fails through the API: ${problem}`);
      templates.set(scenario.name, templateFrom(await api.captured(), values));
    }
    return { templates, encode };
  } finally {
    await api.stop();
  }
}

async function ensureSmallDatabase(server: BenchServer, like: LoadedShape): Promise<LoadedShape> {
  const location = server.database(SMALL_BENCH_DATABASE);
  const wanted = { tenants: 100, productsPerTenant: like.productsPerTenant, categoriesPerTenant: like.categoriesPerTenant };
  const existing = (await benchDatabaseExists(server, SMALL_BENCH_DATABASE)) ? await loadedShape(location.ownerUrl) : undefined;
  if (existing && existing.tenants === wanted.tenants && existing.productsPerTenant === wanted.productsPerTenant && existing.categoriesPerTenant === wanted.categoriesPerTenant) {
    await prepareDatabase(location);
    return existing;
  }
  log(`Loading ${SMALL_BENCH_DATABASE} (${wanted.tenants} tenants x ${wanted.productsPerTenant} products) for the scale comparison...`);
  await recreateDatabase(server, SMALL_BENCH_DATABASE);
  await loadBenchData(location.ownerUrl, location.roles.authenticator.name, wanted);
  return (await loadedShape(location.ownerUrl))!;
}

async function queryOne(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(sql);
    return String(Object.values(rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------

const started = new Date();
const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
const server = await openBenchServer();
const apis: ApiProcess[] = [];
try {
  const large = server.database(args.database);
  const shape = (await benchDatabaseExists(server, args.database)) ? await loadedShape(large.ownerUrl) : undefined;
  if (!shape) throw new Error(`${args.database} holds no benchmark data: run \`npm run bench:data -- --tenants 10000 --products-per-tenant 100\` first.`);
  // Data loaded before the latest migrations gets them now: the figures are for today's schema.
  await prepareDatabase(large);
  // The accountability section disables the audit trigger for some phases and re-enables
  // it afterwards; a run killed meanwhile leaves it off, which would spare every write
  // its audit event. As shipped again before anything is measured.
  const triggerWasOff = await ensureAuditTriggerEnabled(large.ownerUrl);
  const poolSize = Number(args.pool ?? server.env.PG_POOL_MAX);
  const dbPid = postmasterPid(server.dataDir);
  const secret = randomBytes(32).toString('hex');
  const pgbenchVersion = skip.has('pgbench') ? undefined : await pgbenchAvailable();
  const postgresVersion = await queryOne(large.ownerUrl, 'select version()');
  const products = Number(await queryOne(large.ownerUrl, 'select count(*) from app_public.products'));
  const notes: string[] = [];
  if (!pgbenchVersion && !skip.has('pgbench')) notes.push('pgbench is not installed: the pgbench ceiling was left out.');
  if (dbPid === undefined) notes.push('PostgreSQL is not the embedded cluster: its CPU is not measured.');
  if (triggerWasOff) notes.push('The audit trigger on app_public.products was disabled when the run started (an interrupted accountability section?): it was re-enabled before measuring.');

  const pointCount = (skip.has('matrix') ? 0 : selected.length * concurrency.length * (pgbenchVersion ? 3 : 2)) + (skip.has('rls') ? 0 : 4) + (skip.has('scale') ? 0 : 6) + (skip.has('breakdown') ? 0 : 3) + (skip.has('profile') ? 0 : 1) + (skip.has('noisy') ? 0 : 2 * noisySettings.rounds + 3) + (skip.has('accountability') ? 0 : 2 * (2 * accountabilitySettings.rounds + 1) + 2) + (skip.has('realtime') ? 0 : 1);
  log(`tenantgraph bench: ${shape.tenants} tenants x ${shape.productsPerTenant} products (${products} rows) in ${args.database}`);
  log(`${pointCount} measured points of ${seconds} s: about ${Math.ceil((pointCount * (seconds + 1.5) + 60) / 60)} minutes.`);

  log('Capturing the SQL the API sends for each scenario...');
  const { templates, encode } = await captureTemplates(large.authenticatorUrl, large.ownerUrl, secret);
  const tenants = await benchTenants(large.ownerUrl, secret, encode);

  const api = await startApiProcess({ authenticatorUrl: large.authenticatorUrl, secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv }, apiNodeOptions);
  apis.push(api);
  log(`API process ${api.pid} at ${api.url} (pool ${poolSize}, ${apiProcesses} process${apiProcesses > 1 ? 'es' : ''}), started in ${Math.round(api.startMs)} ms`);
  // The cluster primary answers only 'stop'; memory and profiles are for a single process.
  const single = apiProcesses === 1;
  const memoryAfterStart = single ? await api.memory() : undefined;
  // Warm-up of every scenario, not recorded: V8 optimises the hot paths over the first
  // few thousand requests, and PostgreSQL's caches fill.
  log('Warming up the API and the database...');
  for (const scenario of selected) await apiLoad(api, scenario, tenants, 4, 2);

  // ------------------------------------------------------------------ scenario matrix
  const scenarioResults: ScenarioResult[] = [];
  if (!skip.has('matrix')) {
    for (const scenario of selected) {
      const template = templates.get(scenario.name)!;
      let script: string | undefined;
      try {
        script = pgbenchVersion ? pgbenchScript(template, { name: 'bench pgbench', word: 'red' }) : undefined;
      } catch (error) {
        notes.push(`pgbench cannot replay ${scenario.name}: ${(error as Error).message}`);
      }
      const result: ScenarioResult = {
        name: scenario.name,
        title: scenario.title,
        query: scenario.query,
        apiTransactions: template.transactions,
        sql: template.statements.map((statement) => statement.text),
        ...(script && { pgbenchScript: script }),
        points: [],
      };
      log(`\n${scenario.name}: ${scenario.title}`);
      // Warm-up: JIT, prepared statements, caches. Not recorded.
      await apiLoad(api, scenario, tenants, 4, 1);
      await ceilingLoad(large.authenticatorUrl, template, tenants, 4, 1);
      for (const connections of concurrency) {
        const apiPoint = await measure(api.pid, dbPid, () => apiLoad(api, scenario, tenants, connections));
        log(describe(`  c=${connections} API`, apiPoint));
        const ceiling = await measure(undefined, dbPid, () => ceilingLoad(large.authenticatorUrl, template, tenants, connections));
        log(describe(`  c=${connections} pg`, ceiling));
        let pgbenchPoint: Measured | undefined;
        if (script) {
          pgbenchPoint = await measure(
            undefined,
            dbPid,
            () => runPgbench({ url: large.authenticatorUrl, connections, durationSeconds: seconds, script: script!, variables: { tenants: tenants.length } }),
            false,
          );
          log(describe(`  c=${connections} pgbench`, pgbenchPoint));
        }
        result.points.push({ connections, api: apiPoint, ceiling, ...(pgbenchPoint && { pgbench: pgbenchPoint }) });
      }
      scenarioResults.push(result);
    }
  }

  // ------------------------------------------------------------------ RLS cost
  let rls: BenchResults['rls'];
  const listTemplate = templates.get('list')!;
  if (!skip.has('rls')) {
    log('\nRLS cost: the API\'s list query under RLS vs the same query with WHERE tenant_id = $1 as the owner (BYPASSRLS)');
    const [listStatement] = listTemplate.statements;
    if (listTemplate.statements.length !== 1 || !/\norder by/.test(listStatement!.text)) throw new Error('Unexpected SQL for the list scenario');
    const explicitText = listStatement!.text.replace(/\norder by/, '\nwhere __products__."tenant_id" = $1::"uuid"\norder by');
    const explicitTransaction = (tenant: BenchTenant): Statement[] => {
      const values = requestValues(tenant);
      return [
        { text: 'begin' },
        // The same settings minus the role: the owner stays the owner.
        { text: SET_CONFIG_SQL, values: [settingsJson(listTemplate, values, ['role'])] },
        { text: explicitText, values: [tenant.tenantId], name: 'bench_explicit_where' },
        { text: 'commit' },
      ];
    };
    const points = [];
    for (const connections of [1, 16]) {
      const rlsPoint = await measure(undefined, dbPid, () => ceilingLoad(large.authenticatorUrl, listTemplate, tenants, connections));
      log(describe(`  c=${connections} RLS`, rlsPoint));
      const explicitPoint = await measure(undefined, dbPid, () =>
        runSql({ url: large.ownerUrl, connections, durationSeconds: seconds, setup: ['set jit_optimize_above_cost = -1'], next: () => explicitTransaction(pick(tenants)) }),
      );
      log(describe(`  c=${connections} WHERE`, explicitPoint));
      points.push({ connections, rls: rlsPoint, explicitWhere: explicitPoint });
    }
    const explainRls = await explainAnalyze(large.authenticatorUrl, 30, () => {
      const values = requestValues(pick(tenants));
      return { settings: settingsJson(listTemplate, values), statement: mainStatements(listTemplate, values)[0]! };
    });
    const explainExplicit = await explainAnalyze(large.ownerUrl, 30, () => {
      const tenant = pick(tenants);
      return { settings: settingsJson(listTemplate, requestValues(tenant), ['role']), statement: { text: explicitText, values: [tenant.tenantId] } };
    });
    log(`  EXPLAIN ANALYZE median execution: RLS ${explainRls.executionMs.median} ms, WHERE ${explainExplicit.executionMs.median} ms; index scans only: ${explainRls.checks.indexScansOnly}; helpers once per statement: ${explainRls.checks.helpersOncePerStatement}`);
    rls = { connections: [1, 16], points, explainRls, explainExplicit, sqlRls: listStatement!.text, sqlExplicit: explicitText };
  }

  // ------------------------------------------------------------------ scale
  let scale: BenchResults['scale'];
  if (!skip.has('scale')) {
    const smallShape = await ensureSmallDatabase(server, shape);
    const small = server.database(SMALL_BENCH_DATABASE);
    const smallTenants = await benchTenants(small.ownerUrl, secret, encode);
    const smallApi = await startApiProcess({ authenticatorUrl: small.authenticatorUrl, secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv }, apiNodeOptions);
    apis.push(smallApi);
    const smallProducts = Number(await queryOne(small.ownerUrl, 'select count(*) from app_public.products'));
    log(`\nScale: list at ${shape.tenants} tenants (${products} products) vs ${smallShape.tenants} tenants (${smallProducts} products)`);
    const list = scenarioNamed('list');
    await apiLoad(smallApi, list, smallTenants, 4, 5);
    const points = [];
    for (const connections of [1, 16]) {
      const largePoint = await measure(api.pid, dbPid, () => apiLoad(api, list, tenants, connections));
      log(describe(`  c=${connections} large`, largePoint));
      const smallPoint = await measure(smallApi.pid, dbPid, () => apiLoad(smallApi, list, smallTenants, connections));
      log(describe(`  c=${connections} small`, smallPoint));
      points.push({ connections, large: largePoint, small: smallPoint });
    }
    const largeCeiling = await measure(undefined, dbPid, () => ceilingLoad(large.authenticatorUrl, listTemplate, tenants, 16));
    log(describe('  c=16 pg large', largeCeiling));
    const smallCeiling = await measure(undefined, dbPid, () => ceilingLoad(small.authenticatorUrl, listTemplate, smallTenants, 16));
    log(describe('  c=16 pg small', smallCeiling));
    await smallApi.stop();
    apis.splice(apis.indexOf(smallApi), 1);
    scale = { small: { ...smallShape, products: smallProducts, database: SMALL_BENCH_DATABASE }, points, ceiling: [{ connections: 16, large: largeCeiling, small: smallCeiling }] };
  }

  // ------------------------------------------------------------------ where the time goes
  let breakdown: BenchResults['breakdown'];
  if (!skip.has('breakdown')) {
    log('\nWhere the time of one list request goes (one connection)');
    const list = scenarioNamed('list');
    const httpFloor = await measure(api.pid, dbPid, () => runHttp({ url: api.url, path: '/healthz', method: 'GET', connections: 1, durationSeconds: Math.min(seconds, 3) }));
    log(describe('  /healthz', httpFloor));
    const apiList = await measure(api.pid, dbPid, () => apiLoad(api, list, tenants, 1));
    log(describe('  list API', apiList));
    const ceilingList = await measure(undefined, dbPid, () => ceilingLoad(large.authenticatorUrl, listTemplate, tenants, 1));
    log(describe('  list pg', ceilingList));
    // The same verifier the server uses, on tokens it has not seen.
    const verify = createTokenVerifier({ key: { kind: 'secret', secret }, clockToleranceSeconds: 5 });
    const sample = tenants.slice(0, 5000);
    for (const tenant of sample.slice(0, 500)) await verify(tenant.token);
    const verifyStarted = performance.now();
    for (const tenant of sample) await verify(tenant.token);
    const jwtVerifyMs = (performance.now() - verifyStarted) / sample.length;
    const explain = rls?.explainRls ??
      (await explainAnalyze(large.authenticatorUrl, 30, () => {
        const values = requestValues(pick(tenants));
        return { settings: settingsJson(listTemplate, values), statement: mainStatements(listTemplate, values)[0]! };
      }));
    const apiP50 = apiList.latencyMs.p50;
    const rest = apiP50 - httpFloor.latencyMs.p50 - jwtVerifyMs - ceilingList.latencyMs.p50;
    const sqlMs = explain.executionMs.median + explain.planningMs.median;
    breakdown = {
      apiListP50: apiP50,
      apiListMean: apiList.latencyMs.mean,
      httpFloorP50: httpFloor.latencyMs.p50,
      jwtVerifyMs: round(jwtVerifyMs, 3),
      ceilingListP50: ceilingList.latencyMs.p50,
      ceilingListMean: ceilingList.latencyMs.mean,
      sqlExecutionMs: explain.executionMs.median,
      sqlPlanningMs: explain.planningMs.median,
      apiCpuMsPerRequest: apiList.apiCpuMsPerRequest ?? null,
      rows: [
        { part: 'HTTP, Express, helmet, CORS, request log (GET /healthz round trip)', ms: httpFloor.latencyMs.p50, how: 'p50 of GET /healthz, one connection' },
        { part: 'JWT verification', ms: round(jwtVerifyMs, 3), how: 'createTokenVerifier on 5,000 distinct tokens, in the harness' },
        { part: 'database transaction: begin, set_config, SELECT, commit (4 round trips)', ms: round(ceilingList.latencyMs.p50 - sqlMs, 3), how: 'p50 of the same transaction over raw pg, minus the SQL below' },
        { part: 'of which SQL planning + execution in PostgreSQL (RLS included)', ms: round(sqlMs, 3), how: 'median EXPLAIN ANALYZE planning + execution time' },
        { part: 'GraphQL: parse, validate, request limits, rate limit, context, plan, SQL building, result decoding, JSON', ms: round(rest, 3), how: 'API p50 minus all of the above' },
      ],
    };
  }

  // ------------------------------------------------------------------ CPU profile
  let profile: BenchResults['profile'];
  if (!skip.has('profile') && single) {
    log('\nCPU profile of the API process: list at 16 connections');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-profile-'));
    try {
      const file = path.join(dir, 'api.cpuprofile');
      api.startProfile();
      const profiled = await measure(api.pid, dbPid, () => apiLoad(api, scenarioNamed('list'), tenants, 16));
      await api.stopProfile(file);
      log(describe('  c=16 API', profiled));
      profile = { ...(await summarizeProfile(file)), connections: 16, throughput: profiled.throughput };
      for (const layer of profile.layers.filter((l) => l.percentOfBusy > 0).slice(0, 8)) log(`  ${String(layer.percentOfBusy).padStart(5)}%  ${layer.layer}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const apiPeakRss = peakRssOfTree(api.pid);
  const memoryAfterLoad = single ? await api.memory() : undefined;
  await api.stop();
  apis.splice(apis.indexOf(api), 1);

  // ------------------------------------------------------------------ noisy neighbour
  let noisy: BenchResults['noisy'];
  if (!skip.has('noisy')) {
    log(`\nNoisy neighbour: list for ${Math.min(noisySettings.victims, tenants.length)} tenants, alone and while one other tenant floods`);
    try {
      const list = scenarioNamed('list');
      noisy = await runNoisyNeighbour({
        ownerUrl: large.ownerUrl,
        secret,
        tenants,
        ...noisySettings,
        seconds,
        startApi: async () => {
          const noisyApi = await startApiProcess({ authenticatorUrl: large.authenticatorUrl, secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv }, apiNodeOptions);
          apis.push(noisyApi);
          return noisyApi;
        },
        // The cluster primary does not answer memory requests.
        singleProcess: single,
        victimLoad: (noisyApi, victims, connections, duration) => apiLoad(noisyApi, list, victims, connections, duration),
        measure: (apiPid, run) => measure(apiPid, dbPid, run),
        log,
      });
    } catch (error) {
      noisy = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${noisy.error}`);
    }
  }

  // ------------------------------------------------------------------ accountability
  let accountability: BenchResults['accountability'];
  if (!skip.has('accountability')) {
    log(`\nAccountability: createProduct with and without the audit trigger; list with API keys and with tokens`);
    try {
      accountability = await runAccountability({
        ownerUrl: large.ownerUrl,
        secret,
        tenants,
        ...accountabilitySettings,
        seconds,
        apiKeyCacheSeconds: readEnv({ ...process.env, ...apiEnv }).API_KEY_CACHE_SECONDS,
        startApi: async () => {
          const accountabilityApi = await startApiProcess({ authenticatorUrl: large.authenticatorUrl, secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv }, apiNodeOptions);
          apis.push(accountabilityApi);
          return accountabilityApi;
        },
        load: (sectionApi, name, sectionTenants, connections, duration) => apiLoad(sectionApi, scenarioNamed(name), sectionTenants, connections, duration),
        measure: (apiPid, run) => measure(apiPid, dbPid, run),
        log,
      });
    } catch (error) {
      accountability = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${accountability.error}`);
    }
  }

  // ------------------------------------------------------------------ realtime
  let realtime: BenchResults['realtime'];
  if (!skip.has('realtime')) {
    log(`\nRealtime: ${realtimeSettings.tenantCount * realtimeSettings.subscribersPerTenant} subscribers on ${realtimeSettings.tenantCount} tenants, ${realtimeSettings.writesPerSecond} writes/s`);
    try {
      realtime = await runRealtime({
        ownerUrl: large.ownerUrl,
        tenants,
        ...realtimeSettings,
        seconds,
        singleProcess: single,
        dbPid,
        startApi: async () => startApiProcess({ authenticatorUrl: large.authenticatorUrl, secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv }, apiNodeOptions),
        log,
      });
      log(`  lost ${realtime.lost} of ${realtime.expected}, cross-tenant ${realtime.crossTenant}, p50 ${realtime.latencyMs.p50} p99 ${realtime.latencyMs.p99} ms`);
    } catch (error) {
      realtime = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${realtime.error}`);
    }
  }

  // ------------------------------------------------------------------ cold start
  let coldStart: BenchResults['startup']['coldStart'];
  if (!skip.has('cold-start')) {
    log('\nCold start: npm start on a fresh data folder, to the first answered query');
    try {
      coldStart = await measureColdStart();
      log(`  ${coldStart.firstAnswerMs} ms`);
    } catch (error) {
      coldStart = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${coldStart.error}`);
    }
  }

  // ------------------------------------------------------------------ targets and report
  const duringLoad = [
    ...scenarioResults.flatMap((result) => result.points.map((point) => point.api.usage.apiPeakRssMb)),
    ...(scale?.points.map((point) => point.large.usage.apiPeakRssMb) ?? []),
  ].filter((value): value is number => value !== null);
  const mb = (memory: Awaited<ReturnType<ApiProcess['memory']>> | undefined) =>
    memory && {
      rss: round(memory.usage.rss / 1048576, 1),
      heapTotal: round(memory.usage.heapTotal / 1048576, 1),
      heapUsed: round(memory.usage.heapUsed / 1048576, 1),
      external: round(memory.usage.external / 1048576, 1),
      ...(memory.afterGc && { heapUsedAfterGc: round(memory.afterGc.heapUsed / 1048576, 1), rssAfterGc: round(memory.afterGc.rss / 1048576, 1) }),
    };
  const memory = {
    apiPeakRssMb: apiPeakRss === undefined ? null : round(apiPeakRss / 1048576, 1),
    apiPeakRssMbDuringLoad: duringLoad.length ? Math.max(...duringLoad) : null,
    ...(memoryAfterStart && { afterStart: mb(memoryAfterStart) }),
    ...(memoryAfterLoad && { afterLoad: mb(memoryAfterLoad) }),
  };
  const results: BenchResults = {
    version: 1,
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      memoryGb: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: postgresVersion.split(' on ')[0]!,
      pgbench: pgbenchVersion ?? null,
      loadAverageBefore: [],
      loadAverageAfter: os.loadavg().map((value) => round(value, 2)),
    },
    settings: { database: args.database, secondsPerPoint: seconds, concurrency, scenarios: selected.map((s) => s.name), apiPoolSize: poolSize, apiProcesses, apiEnv, apiNodeOptions, notes },
    data: { ...shape, products, database: args.database },
    scenarios: scenarioResults,
    ...(rls && { rls }),
    ...(scale && { scale }),
    ...(breakdown && { breakdown }),
    ...(profile && { profile }),
    ...(noisy && { noisy }),
    ...(accountability && { accountability }),
    ...(realtime && { realtime }),
    memory,
    startup: { apiProcessMs: Math.round(api.startMs), ...(coldStart && { coldStart }) },
    targets: [],
  };
  results.machine.loadAverageBefore = loadAverageBefore;
  results.targets = evaluateTargets(results);

  await mkdir(args.out, { recursive: true });
  const stem = path.join(args.out, started.toISOString().slice(0, 16).replace('T', '-').replace(':', ''));
  const points = chartPoints(results);
  const outputs: Array<[string, string]> = [[`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`]];
  if (points.length > 0) outputs.push([`${stem}.svg`, await renderChart(points, chartTitle(results))]);
  outputs.push([`${stem}.md`, renderMarkdown(results, points.length > 0 ? path.basename(`${stem}.svg`) : undefined)]);
  for (const [file, content] of outputs) {
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  }
  log('\nTargets:');
  for (const target of results.targets) log(`  ${target.met === null ? '  -' : target.met ? 'met' : 'MISSED'}  ${target.name}: ${target.measured} (goal ${target.goal})`);
  log(`\nWrote ${outputs.map(([file]) => path.relative(process.cwd(), file)).join(', ')}`);
} finally {
  await Promise.all(apis.map((api) => api.stop()));
  await server.stop();
}

// ---------------------------------------------------------------------------------------

function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const at = (name: string, connections: number) => results.scenarios.find((s) => s.name === name)?.points.find((p) => p.connections === connections);
  const ceilingOf = (point: NonNullable<ReturnType<typeof at>>) => Math.max(point.ceiling.throughput, point.pgbench?.throughput ?? 0);
  const list16 = at('list', 16);
  if (list16) {
    const ceiling = ceilingOf(list16);
    const share = ratio(list16.api.throughput, ceiling);
    targets.push({
      name: 'list, 16 connections: throughput vs database ceiling',
      goal: '>= 50% of the ceiling',
      measured: `${list16.api.throughput}/s vs ${ceiling}/s (node-postgres ${list16.ceiling.throughput}/s${list16.pgbench ? `, pgbench ${list16.pgbench.throughput}/s` : ''}) = ${Math.round(share * 100)}%`,
      ratio: share,
      met: share >= 0.5,
    });
    targets.push({ name: 'list, 16 connections: p99 latency', goal: '< 20 ms', measured: `${list16.api.latencyMs.p99} ms`, ratio: ratio(list16.api.latencyMs.p99, 20), met: list16.api.latencyMs.p99 < 20 });
  }
  const create16 = at('create', 16);
  if (create16) {
    const ceiling = ceilingOf(create16);
    const share = ratio(create16.api.throughput, ceiling);
    targets.push({
      name: 'createProduct, 16 connections: throughput vs the same insert through create_product',
      goal: '>= 50% of the ceiling',
      measured: `${create16.api.throughput}/s vs ${ceiling}/s (node-postgres ${create16.ceiling.throughput}/s${create16.pgbench ? `, pgbench ${create16.pgbench.throughput}/s` : ''}) = ${Math.round(share * 100)}%`,
      ratio: share,
      met: share >= 0.5,
    });
  }
  if (results.rls) {
    const saturated = results.rls.points.find((point) => point.connections === 16)!;
    const cost = ratio(saturated.explicitWhere.throughput, saturated.rls.throughput);
    const single = results.rls.points.find((point) => point.connections === 1)!;
    targets.push({
      name: `RLS cost at ${results.data.products} rows: explicit-WHERE throughput / RLS throughput, 16 connections`,
      goal: '<= 1.05x',
      measured: `${saturated.rls.throughput}/s under RLS vs ${saturated.explicitWhere.throughput}/s with WHERE = ${cost}x; one connection p50 ${single.rls.latencyMs.p50} vs ${single.explicitWhere.latencyMs.p50} ms; EXPLAIN: index scans only ${results.rls.explainRls.checks.indexScansOnly}, helpers once per statement ${results.rls.explainRls.checks.helpersOncePerStatement}`,
      ratio: cost,
      met: cost <= 1.05 && results.rls.explainRls.checks.indexScansOnly && results.rls.explainRls.checks.helpersOncePerStatement,
    });
  }
  if (results.scale) {
    const point = results.scale.points.find((p) => p.connections === 16) ?? results.scale.points[0]!;
    const growth = ratio(point.large.latencyMs.p50, point.small.latencyMs.p50);
    targets.push({
      name: `scale: list p50 at ${results.data.products} vs ${results.scale.small.products} products, ${point.connections} connections`,
      goal: '<= 1.2x',
      measured: `${point.large.latencyMs.p50} ms vs ${point.small.latencyMs.p50} ms = ${growth}x`,
      ratio: growth,
      met: growth <= 1.2,
    });
  }
  const rss = results.memory.apiPeakRssMb ?? results.memory.apiPeakRssMbDuringLoad;
  if (rss !== null) targets.push({ name: 'API peak RSS under load', goal: '<= 200 MB', measured: `${rss} MB (VmHWM of the API process${results.settings.apiProcesses > 1 ? 'es, summed' : ''})`, ratio: ratio(rss, 200), met: rss <= 200 });
  if (results.noisy) targets.push(...noisyTargets(results.noisy));
  if (results.accountability) targets.push(...accountabilityTargets(results.accountability));
  if (results.realtime) targets.push(...realtimeTargets(results.realtime));
  const cold = results.startup.coldStart;
  if (cold) {
    targets.push(
      'error' in cold
        ? { name: 'cold npm start to first answered query', goal: '<= 10 s', measured: `failed: ${cold.error.slice(0, 200)}`, ratio: null, met: false }
        : { name: 'cold npm start to first answered query', goal: '<= 10 s', measured: `${round(cold.firstAnswerMs / 1000, 2)} s`, ratio: ratio(cold.firstAnswerMs, 10_000), met: cold.firstAnswerMs <= 10_000 },
    );
  }
  return targets;
}
