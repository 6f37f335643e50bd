// `npm run tenants:top`: the tenants using the most over the last minutes, read from the
// admin endpoint of one or more API processes (each keeps its own window) and summed.
//
//   npm run tenants:top -- [--url http://127.0.0.1:9464 ...] [--by costPoints] [--minutes 5] [--limit 10] [--json]
//
// The token is ADMIN_TOKEN from the environment (or .env); the URL defaults to
// METRICS_HOST:METRICS_PORT.
import { parseArgs } from 'node:util';
import { loadDotEnv } from '../config.ts';
import { TOP_TENANTS_PATH } from '../observability/metrics-server.ts';
import { RESOURCES, type Resource, type TopView, type Usage } from '../observability/usage-top.ts';

loadDotEnv();
const { values: args } = parseArgs({
  options: {
    url: { type: 'string', multiple: true },
    by: { type: 'string', default: 'costPoints' },
    minutes: { type: 'string', default: '5' },
    limit: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    `Usage: npm run tenants:top -- [--url URL ...] [--by ${RESOURCES.join('|')}] [--minutes N] [--limit N] [--json]\n  ADMIN_TOKEN is read from the environment; --url defaults to http://METRICS_HOST:METRICS_PORT.\n`,
  );
  process.exit(0);
}
const token = process.env.ADMIN_TOKEN;
const by = args.by as Resource;
if (!token) fail("Set ADMIN_TOKEN (the API's admin token) in the environment or .env.");
if (!RESOURCES.includes(by)) fail(`--by: one of ${RESOURCES.join(', ')}`);
const urls =
  args.url ??
  (process.env.METRICS_PORT
    ? [`http://${process.env.METRICS_HOST ?? '127.0.0.1'}:${process.env.METRICS_PORT}`]
    : []);
if (urls.length === 0) fail('Give --url http://host:METRICS_PORT (or set METRICS_PORT).');

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// Each process ranks only its own top; asking each for more than the limit keeps the sum
// right for every tenant that is large in any of them.
const views = await Promise.all(
  urls.map(async (base) => {
    const url = new URL(TOP_TENANTS_PATH, base);
    url.search = new URLSearchParams({
      by,
      minutes: args.minutes,
      limit: String(Math.min(1000, Number(args.limit) * 5)),
    }).toString();
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } }).catch(
      (error: Error) => fail(`${base}: ${error.message}`),
    );
    if (!response.ok) fail(`${base}: ${response.status} ${(await response.text()).slice(0, 200)}`);
    return (await response.json()) as TopView;
  }),
);

const totals: Usage & { tenants: number } = {
  requests: 0,
  costPoints: 0,
  databaseMs: 0,
  errors: 0,
  tenants: 0,
};
const tenants = new Map<string, Usage>();
// Operators read slugs; the id stays beside it (a tenant deleted since has no slug).
const slugs = new Map<string, string>();
for (const view of views) {
  for (const resource of RESOURCES) totals[resource] += view.totals[resource];
  totals.tenants = Math.max(totals.tenants, view.totals.tenants);
  for (const tenant of view.tenants) {
    if (tenant.slug) slugs.set(tenant.tenantId, tenant.slug);
    const sum = tenants.get(tenant.tenantId) ?? { requests: 0, costPoints: 0, databaseMs: 0, errors: 0 };
    for (const resource of RESOURCES) sum[resource] += tenant[resource];
    tenants.set(tenant.tenantId, sum);
  }
}
const ranked = [...tenants].sort(([, a], [, b]) => b[by] - a[by]).slice(0, Number(args.limit));

if (args.json) {
  process.stdout.write(
    `${JSON.stringify({ processes: urls.length, minutes: Number(args.minutes), by, totals, tenants: ranked.map(([tenantId, usage]) => ({ tenantId, slug: slugs.get(tenantId) ?? null, ...usage })) }, null, 2)}\n`,
  );
} else {
  const share = (value: number, total: number) =>
    total > 0 ? `${((value / total) * 100).toFixed(1)}%` : '-';
  const rows = ranked.map(([tenantId, u]) => [
    slugs.get(tenantId) ?? '-',
    tenantId,
    String(u.requests),
    share(u.requests, totals.requests),
    String(u.costPoints),
    share(u.costPoints, totals.costPoints),
    String(Math.round(u.databaseMs)),
    share(u.databaseMs, totals.databaseMs),
    String(u.errors),
  ]);
  const header = ['tenant', 'id', 'requests', '%', 'cost', '%', 'db ms', '%', 'errors'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  process.stdout.write(
    `Top ${ranked.length} tenants by ${by}, last ${args.minutes} min, ${urls.length} process(es); all requests: ${totals.requests}, cost ${totals.costPoints}, db ${Math.round(totals.databaseMs)} ms, errors ${totals.errors}, ${totals.tenants}+ tenants active\n\n${line(header)}\n${rows.map(line).join('\n')}\n`,
  );
}
