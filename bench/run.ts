// `npm run bench`: the API against its database ceiling, on the data `npm run bench:data`
// loaded, every figure a ratio measured in this one run. See bench/README.md.
//
// This file sets up what every section shares (the data set, a token per tenant, the SQL
// the API sends, the run's API process), runs the sections of SECTIONS in order (each a
// module in sections/, see sections/section.ts) and writes the results. A section on the
// 'shared' API process runs before it is stopped (its memory figures include them all);
// an 'own' section starts the API processes it needs afterwards. A new section is a
// module exporting one `Section` and its name in SECTIONS; its options, its --skip name,
// its share of the time estimate and its --help lines come from the module.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot, prepareDatabase } from '../src/database/migrations.ts';
import type { DatabaseLocation } from '../src/database/location.ts';
import { ensureAuditTriggerEnabled } from './lib/ab-presets.ts';
import { buildThisCheckout, startApiProcess, type ApiProcess } from './lib/api.ts';
import { captureTemplates } from './lib/capture.ts';
import { BENCH_DATABASE, benchDatabaseExists, openBenchServer, queryOne } from './lib/database.ts';
import { loadedShape } from './lib/load-data.ts';
import { pgbenchAvailable, runHttp, runSql } from './lib/load.ts';
import { writeReportFiles } from './lib/report-files.ts';
import type { BenchResults } from './lib/results.ts';
import type { Measured } from './lib/measured.ts';
import { peakRssOfTree, postmasterPid, UsageSampler } from './lib/sampler.ts';
import { requestValues, SCENARIOS, scenarioNamed, type BenchTenant, type Scenario } from './lib/scenarios.ts';
import { transaction, type SqlTemplate } from './lib/sql-templates.ts';
import { round } from './lib/stats.ts';
import { evaluateTargets } from './lib/targets.ts';
import { benchTenants } from './lib/tenants.ts';
import { ab } from './sections/ab.ts';
import { abuse } from './sections/abuse.ts';
import { breakdown } from './sections/breakdown.ts';
import { coldStart } from './sections/cold-start.ts';
import { matrix } from './sections/matrix.ts';
import { noisy } from './sections/noisy.ts';
import { portability } from './sections/portability.ts';
import { realtime } from './sections/realtime.ts';
import { profile } from './sections/profile.ts';
import { rls } from './sections/rls.ts';
import { scale } from './sections/scale.ts';
import {
  pick,
  type ApiVariant,
  type Args,
  type RunShape,
  type SectionContext,
  type SectionResults,
} from './sections/section.ts';

const SECTIONS = [matrix, rls, scale, breakdown, profile, noisy, abuse, realtime, portability, coldStart, ab];
/** --skip names: the sections, and pgbench (the matrix's third ceiling). */
const SKIPPABLE = ['matrix', 'pgbench', ...SECTIONS.slice(1).map((section) => section.name)];

const sectionOptions = SECTIONS.flatMap((section) =>
  Object.entries(section.options ?? {}).map(([name, option]) => ({ section: section.name, name, ...option })),
);
const scenarioNames = SCENARIOS.map((scenario) => scenario.name);

const { values, positionals } = parseArgs({
  // `npm run bench -- ab --preset tracing-on`: the sections named, as with --only.
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '5' },
    scenarios: { type: 'string', default: scenarioNames.join(',') },
    concurrency: { type: 'string', default: '1,4,16,64' },
    database: { type: 'string', default: BENCH_DATABASE },
    pool: { type: 'string' },
    'api-processes': { type: 'string', default: '1' },
    'api-env': { type: 'string', multiple: true, default: [] },
    'api-node-option': { type: 'string', multiple: true, default: [] },
    skip: { type: 'string', default: '' },
    only: { type: 'string', default: '' },
    out: { type: 'string', default: path.join(projectRoot, 'bench/results') },
    help: { type: 'boolean', default: false },
    ...Object.fromEntries(
      sectionOptions.map((option) => [option.name, { type: 'string', default: option.default }]),
    ),
  },
});

if (values.help) {
  const sectionLines = sectionOptions.map(
    (option) =>
      `  --${option.name} N`.padEnd(34) +
      `${option.section}: ${option.help}${option.default ? ` (default ${option.default})` : ''}`,
  );
  process.stdout.write(`Usage: npm run bench -- [options]
  --duration S                    seconds per measured point (default 5)
  --scenarios a,b                 of ${scenarioNames.join(', ')} (default: all)
  --concurrency 1,4               connections per point (default 1,4,16,64)
  --database NAME                 the data set (default ${BENCH_DATABASE}, loaded by npm run bench:data)
  --pool N                        API connection pool size (default: PG_POOL_MAX, 10)
  --api-processes N               API processes sharing the port (node:cluster; default 1)
  --api-env NAME=VALUE            extra environment for the API process (repeatable), e.g. LOG_LEVEL=warn
  --api-node-option X             a node flag for the API process (repeatable),
                                  e.g. --api-node-option=--max-old-space-size=128
${sectionLines.join('\n')}
  --skip a,b                      sections to leave out: ${SKIPPABLE.join(', ')}
  --only a,b                      the sections to run, all others left out (e.g. --only ab --baseline main;
                                  positional names too: npm run bench -- ab --preset tracing-on)
  --out DIR                       where results go (default bench/results)
`);
  process.exit(0);
}

const seconds = Number(values.duration);
const concurrency = values.concurrency.split(',').map(Number);
const scenarios = values.scenarios.split(',').map((name) => scenarioNamed(name.trim()));
const only = [...values.only.split(',').filter(Boolean), ...positionals];
const skip = new Set(values.skip.split(',').filter(Boolean));
for (const name of [...skip, ...only]) {
  if (!SKIPPABLE.includes(name)) throw new Error(`Unknown section ${name}; known: ${SKIPPABLE.join(', ')}`);
}
if (only.length > 0) for (const name of SKIPPABLE) if (!only.includes(name)) skip.add(name);
const apiEnv = Object.fromEntries(
  values['api-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const apiProcesses = Number(values['api-processes']);
const apiNodeOptions = values['api-node-option'];
if (!Number.isFinite(seconds) || seconds <= 0 || concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
  throw new Error('--duration and --concurrency must be positive numbers');
}
const args: Args = Object.fromEntries(
  Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
);
// Every section reads and checks its options now, before anything starts.
const sections = SECTIONS.filter((section) => !skip.has(section.name)).map((section) => ({
  ...section,
  prepared: section.prepare(args),
}));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------
// Measurements with resource usage, and the two loads every section uses

function describe(label: string, m: Measured): string {
  const { apiCpuPercent, dbCpuPercent, otherCpuPercent } = m.usage;
  const cpu = [
    apiCpuPercent !== null && `api ${apiCpuPercent}%`,
    dbCpuPercent !== null && `db ${dbCpuPercent}%`,
    `other ${otherCpuPercent}%`,
  ];
  const latency = `p50 ${m.latencyMs.p50} p95 ${m.latencyMs.p95} p99 ${m.latencyMs.p99} ms`;
  const throughput = `${String(m.throughput).padStart(8)}/s`;
  return `${label.padEnd(12)} ${throughput}  ${latency}  errors ${m.errors}  cpu ${cpu.filter(Boolean).join(' ')}`;
}

function apiLoad(
  api: ApiProcess,
  scenario: Scenario,
  tenants: BenchTenant[],
  connections: number,
  duration = seconds,
) {
  return runHttp({
    url: api.url,
    path: '/graphql',
    method: 'POST',
    connections,
    durationSeconds: duration,
    next: () => {
      const tenant = pick(tenants);
      const variables = scenario.variables(tenant, requestValues(tenant));
      return {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.token}` },
        body: JSON.stringify({ query: scenario.query, variables }),
      };
    },
    check: scenario.quickCheck,
  });
}

function ceilingLoad(
  url: string,
  template: SqlTemplate,
  tenants: BenchTenant[],
  connections: number,
  duration = seconds,
) {
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

const started = new Date();
const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
const server = await openBenchServer();
const apis: ApiProcess[] = [];
try {
  const database = server.database(values.database);
  const shape = (await benchDatabaseExists(server, values.database))
    ? await loadedShape(database.ownerUrl)
    : undefined;
  if (!shape) {
    throw new Error(
      `${values.database} holds no benchmark data: ` +
        'run `npm run bench:data -- --tenants 10000 --products-per-tenant 100` first.',
    );
  }
  // Data loaded before the latest migrations gets them now: the figures are for today's schema.
  await prepareDatabase(database);
  // The A/B preset audit-on disables the audit trigger for some phases and re-enables
  // it afterwards; a run killed meanwhile leaves it off, which would spare every write
  // its audit event. As shipped again before anything is measured.
  const triggerWasOff = await ensureAuditTriggerEnabled(database.ownerUrl);
  const poolSize = Number(values.pool ?? server.env.PG_POOL_MAX);
  const dbPid = postmasterPid(server.dataDir);
  const secret = randomBytes(32).toString('hex');
  const pgbenchVersion = skip.has('pgbench') ? undefined : await pgbenchAvailable();
  const postgresVersion = await queryOne(database.ownerUrl, 'select version()');
  const products = Number(await queryOne(database.ownerUrl, 'select count(*) from app_public.products'));
  const notes: string[] = [];
  if (!pgbenchVersion && !skip.has('pgbench')) {
    notes.push('pgbench is not installed: the pgbench ceiling was left out.');
  }
  if (dbPid === undefined) notes.push('PostgreSQL is not the embedded cluster: its CPU is not measured.');
  if (triggerWasOff) {
    notes.push(
      'The audit trigger on app_public.products was disabled when the run started ' +
        '(an interrupted A/B audit-on?): it was re-enabled before measuring.',
    );
  }

  const run: RunShape = { scenarios, concurrency, pgbench: pgbenchVersion };
  const pointCount = sections.reduce((sum, section) => sum + section.prepared.points(run), 0);
  const minutes = Math.ceil((pointCount * (seconds + 1.5) + 60) / 60);
  log(
    `tenantgraph bench: ${shape.tenants} tenants x ${shape.productsPerTenant} products ` +
      `(${products} rows) in ${values.database}`,
  );
  log(`${pointCount} measured points of ${seconds} s: about ${minutes} minutes.`);

  log('Building this checkout (npm run build): the API runs compiled, as production runs it...');
  const thisCheckout = buildThisCheckout();
  log('Capturing the SQL the API sends for each scenario...');
  const apiOptions = { secret, poolSize, processes: apiProcesses, capture: false, env: apiEnv };
  const { templates, encode } = await captureTemplates(
    { ownerUrl: database.ownerUrl, authenticatorUrl: database.authenticatorUrl, secret, env: apiEnv },
    thisCheckout,
  );
  const tenants = await benchTenants(database.ownerUrl, secret, encode);

  const startApi = async (location: DatabaseLocation = database, variant: ApiVariant = {}) => {
    const api = await startApiProcess(
      {
        ...apiOptions,
        ownerUrl: location.ownerUrl,
        authenticatorUrl: location.authenticatorUrl,
        // API_PROCESSES in a variant's environment (an A/B side) instead of --api-processes.
        processes: Number(variant.env?.API_PROCESSES ?? apiOptions.processes),
        env: { ...apiOptions.env, ...variant.env },
      },
      variant.source ?? thisCheckout,
      [...apiNodeOptions, ...(variant.nodeFlags ?? [])],
    );
    apis.push(api);
    return api;
  };
  const api = await startApi();
  const plural = apiProcesses > 1 ? 'es' : '';
  log(
    `API process ${api.pid} at ${api.url} (pool ${poolSize}, ${apiProcesses} process${plural}), ` +
      `started in ${Math.round(api.startMs)} ms`,
  );
  // Memory and profiles are for a single process (lib/api-hooks.js).
  const single = apiProcesses === 1;
  const memoryAfterStart = single ? await api.memory() : undefined;
  // Warm-up of every scenario, not recorded: V8 optimises the hot paths over the first
  // few thousand requests, and PostgreSQL's caches fill.
  log('Warming up the API and the database...');
  for (const scenario of scenarios) await apiLoad(api, scenario, tenants, 4, 2);

  const results: SectionResults = {};
  const context: SectionContext = {
    seconds,
    run,
    server,
    database,
    shape,
    products,
    secret,
    poolSize,
    apiEnv,
    tenants,
    templates,
    encode,
    api,
    single,
    dbPid,
    notes,
    results,
    log,
    startApi,
    async stopApi(stopped) {
      await stopped.stop();
      apis.splice(apis.indexOf(stopped), 1);
    },
    async measure(apiPid, load, generatorIsThisProcess = true) {
      const sampler = new UsageSampler(apiPid, dbPid);
      sampler.start();
      const outcome = await load();
      const usage = sampler.stop(generatorIsThisProcess);
      const perRequest = (percent: number | null) =>
        percent === null || outcome.requests === 0
          ? null
          : round(((percent / 100) * usage.seconds * 1000) / outcome.requests, 3);
      return {
        ...outcome,
        usage,
        apiCpuMsPerRequest: perRequest(usage.apiCpuPercent),
        dbCpuMsPerRequest: perRequest(usage.dbCpuPercent),
      };
    },
    describe,
    apiLoad,
    ceilingLoad,
  };

  for (const section of sections.filter((s) => s.api === 'shared')) await section.prepared.run(context);
  const apiPeakRss = peakRssOfTree(api.pid);
  const memoryAfterLoad = single ? await api.memory() : undefined;
  await context.stopApi(api);
  for (const section of sections.filter((s) => s.api === 'own')) await section.prepared.run(context);

  // ------------------------------------------------------------------ results and report
  const duringLoad = [
    ...(results.scenarios ?? []).flatMap((result) =>
      result.points.map((point) => point.api.usage.apiPeakRssMb),
    ),
    ...(results.scale?.points.map((point) => point.large.usage.apiPeakRssMb) ?? []),
  ].filter((value): value is number => value !== null);
  const mb = (bytes: number) => round(bytes / 1048576, 1);
  const figures = (memory: Awaited<ReturnType<ApiProcess['memory']>> | undefined) =>
    memory && {
      rss: mb(memory.usage.rss),
      heapTotal: mb(memory.usage.heapTotal),
      heapUsed: mb(memory.usage.heapUsed),
      external: mb(memory.usage.external),
      ...(memory.afterGc && {
        heapUsedAfterGc: mb(memory.afterGc.heapUsed),
        rssAfterGc: mb(memory.afterGc.rss),
      }),
    };
  const { scenarios: scenarioResults = [], coldStart: coldStartResult, ...sectionResults } = results;
  const benchResults: BenchResults = {
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
      loadAverageBefore,
      loadAverageAfter: os.loadavg().map((value) => round(value, 2)),
    },
    settings: {
      database: values.database,
      secondsPerPoint: seconds,
      concurrency,
      scenarios: scenarios.map((s) => s.name),
      apiPoolSize: poolSize,
      apiProcesses,
      apiEnv,
      apiNodeOptions,
      notes,
    },
    data: { ...shape, products, database: values.database },
    scenarios: scenarioResults,
    ...sectionResults,
    memory: {
      apiPeakRssMb: apiPeakRss === undefined ? null : mb(apiPeakRss),
      apiPeakRssMbDuringLoad: duringLoad.length ? Math.max(...duringLoad) : null,
      ...(memoryAfterStart && { afterStart: figures(memoryAfterStart) }),
      ...(memoryAfterLoad && { afterLoad: figures(memoryAfterLoad) }),
    },
    startup: {
      apiProcessMs: Math.round(api.startMs),
      ...(coldStartResult && { coldStart: coldStartResult }),
    },
    targets: [],
  };
  benchResults.targets = evaluateTargets(benchResults);

  await mkdir(values.out, { recursive: true });
  const stem = path.join(values.out, started.toISOString().slice(0, 16).replace('T', '-').replace(':', ''));
  const written = await writeReportFiles(benchResults, stem);
  log('\nTargets:');
  for (const target of benchResults.targets) {
    const verdict = target.met === null ? '  -' : target.met ? 'met' : 'MISSED';
    log(`  ${verdict}  ${target.name}: ${target.measured} (goal ${target.goal})`);
  }
  log(`\nWrote ${written.map((file) => path.relative(process.cwd(), file)).join(', ')}`);
} finally {
  await Promise.all(apis.map((api) => api.stop()));
  await server.stop();
}
