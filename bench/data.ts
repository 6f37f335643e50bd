// `npm run bench:data -- --tenants 10000 --products-per-tenant 100`
//
// (Re)creates the benchmark database (tenantgraph_bench unless --database says
// otherwise) from the committed migrations and loads the data set into it. Never the
// development database.
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { BENCH_DATABASE, openBenchServer, recreateDatabase } from './lib/database.ts';
import { loadBenchData, type LoadProgress } from './lib/load-data.ts';

const { values: args } = parseArgs({
  options: {
    tenants: { type: 'string', default: '10000' },
    'products-per-tenant': { type: 'string', default: '100' },
    'categories-per-tenant': { type: 'string', default: '10' },
    database: { type: 'string', default: BENCH_DATABASE },
    jobs: { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout
    .write(`Usage: npm run bench:data -- [--tenants N] [--products-per-tenant N] [--categories-per-tenant N] [--database NAME] [--jobs N]
Drops and recreates the benchmark database (default ${BENCH_DATABASE}) and loads N tenants, each with an
owner and a member, categories and products, over --jobs connections (default 2).\n`);
  process.exit(0);
}

function positive(name: string, value: string, allowZero = false): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < (allowZero ? 0 : 1))
    throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`);
  return number;
}

const shape = {
  tenants: positive('tenants', args.tenants),
  productsPerTenant: positive('products-per-tenant', args['products-per-tenant'], true),
  categoriesPerTenant: positive('categories-per-tenant', args['categories-per-tenant'], true),
};
if (!args.database.startsWith('tenantgraph_bench'))
  throw new Error('--database must start with tenantgraph_bench, so no other database is ever dropped.');

function progressBar(): LoadProgress {
  const bar = new cliProgress.SingleBar(
    {
      format:
        'tenants {bar} {percentage}% | {value}/{total} | {rows} rows | {rate} rows/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  return {
    start: (total) => bar.start(total, 0, { rows: 0, rate: 0 }),
    update: (done, rows) =>
      bar.update(done, { rows, rate: Math.round(rows / ((performance.now() - started) / 1000)) }),
    stop: () => bar.stop(),
  };
}

const server = await openBenchServer();
try {
  const started = performance.now();
  process.stderr.write(`Recreating ${args.database} from the committed migrations...\n`);
  const location = await recreateDatabase(server, args.database);
  const report = await loadBenchData(
    location.ownerUrl,
    location.roles.authenticator.name,
    shape,
    progressBar(),
    positive('jobs', args.jobs),
  );
  const total = (performance.now() - started) / 1000;
  const rows = Object.entries(report.rows)
    .map(([table, count]) => `${count} ${table}`)
    .join(', ');
  process.stdout.write(
    `Loaded ${rows} into ${args.database} in ${report.loadSeconds.toFixed(1)} s ` +
      `(${Math.round(Object.values(report.rows).reduce((a, b) => a + b, 0) / report.loadSeconds)} rows/s), ` +
      `vacuum analyze ${report.vacuumSeconds.toFixed(1)} s, ${total.toFixed(1)} s in all.\n`,
  );
} finally {
  await server.stop();
}
