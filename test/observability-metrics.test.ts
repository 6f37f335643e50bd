// The operators' listener: exact counts and labels on /metrics after known traffic, a
// bounded number of series whatever the number of tenants, the per-tenant top-N behind
// the admin token, and neither reachable through the API's port.
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { asOwner } from './support/db.ts';
import { createTenant } from './support/fixtures.ts';
import { PRICED_BY_ESTIMATE, tokenFor } from './support/api.ts';
import { parseMetrics, useObservedApi, valueOf, type Sample } from './support/observed-api.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { watchJobs } from '../src/observability/job-metrics.ts';

const database = inject('database');
const run = promisify(execFile);
const PRODUCTS_ID = 'f8d37422c2a1318a49f5d5f010f0800fd952105f09cd95f2a4fa7ee7466ca8ab';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const api = useObservedApi({
  trustedDocuments: { file: 'trusted-documents.json', enforce: false },
  budget: { maxPoints: 300, restoreRate: 1 },
  throttleDelayMs: 0,
  // The traffic below is sized in the estimate's points; on a loaded machine its database time could outweigh them.
  work: PRICED_BY_ESTIMATE,
});

const tenantgraph = (samples: Sample[]) => samples.filter((sample) => sample.name.startsWith('tenantgraph_'));

describe('metrics after known traffic', () => {
  it('counts each request once, by route, status, operation and outcome, with the cost it consumed', async () => {
    const tenant = await createTenant('metrics');
    const viewer = {
      authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
    };

    let productsCost = 0;
    for (let i = 0; i < 3; i++) {
      const { status, body } = await api.post({ documentId: PRODUCTS_ID, variables: { first: 10 } }, viewer);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      productsCost += body.extensions.cost.actualQueryCost;
    }
    for (let i = 0; i < 2; i++)
      expect((await api.post({ query: 'query Whatever { currentTenant { name } }' }, viewer)).status).toBe(
        200,
      );
    expect((await api.post({ query: '{ currentTenant { name } }' }, viewer)).status).toBe(200);
    expect(
      (await api.post({ query: '{ currentTenant { name } }' }, { authorization: 'Bearer not-a-token' }))
        .status,
    ).toBe(401);
    const throttled = await api.post(
      { query: 'query Big { products(first: 400) { nodes { name } } }' },
      viewer,
    );
    expect([throttled.status, throttled.body.errors[0].extensions.code]).toEqual([429, 'RATE_LIMITED']);
    const refused = await api.post(
      {
        query:
          'mutation CreateProduct { createProduct(input: { name: "x", price: "1" }) { product { id } } }',
      },
      viewer,
    );
    expect([refused.status, refused.body.errors[0].extensions.code]).toEqual([200, 'FORBIDDEN']);

    const samples = await api.scrape();
    const http = (status: string) =>
      valueOf(samples, 'tenantgraph_http_requests_total', { route: 'graphql', method: 'POST', status });
    expect([http('200'), http('401'), http('429')]).toEqual([7, 1, 1]);
    const requests = (operation: string, outcome: string) =>
      valueOf(samples, 'tenantgraph_graphql_requests_total', { operation, outcome });
    expect({
      products: requests('Products', 'OK'),
      other: requests('other', 'OK'),
      anonymous: requests('anonymous', 'OK'),
      unauthenticated: requests('none', 'UNAUTHENTICATED'),
      throttled: requests('other', 'RATE_LIMITED'),
      forbidden: requests('CreateProduct', 'FORBIDDEN'),
    }).toEqual({ products: 3, other: 2, anonymous: 1, unauthenticated: 1, throttled: 1, forbidden: 1 });
    expect(
      tenantgraph(samples)
        .filter((s) => s.name === 'tenantgraph_graphql_requests_total')
        .reduce((sum, s) => sum + s.value, 0),
    ).toBe(9);
    expect(
      valueOf(samples, 'tenantgraph_graphql_request_duration_seconds_count', {
        operation: 'Products',
        outcome: 'OK',
      }),
    ).toBe(3);
    expect(
      valueOf(samples, 'tenantgraph_graphql_request_duration_seconds_bucket', {
        operation: 'Products',
        outcome: 'OK',
        le: '+Inf',
      }),
    ).toBe(3);
    expect(productsCost).toBeGreaterThan(0);
    expect(valueOf(samples, 'tenantgraph_graphql_cost_points_total', { operation: 'Products' })).toBe(
      productsCost,
    );
    expect(valueOf(samples, 'tenantgraph_throttled_requests_total', { reason: 'RATE_LIMITED' })).toBe(1);
    expect(valueOf(samples, 'tenantgraph_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(valueOf(samples, 'tenantgraph_statement_timeouts_total')).toBe(0);
    expect(valueOf(samples, 'tenantgraph_db_pool_connections', { state: 'max' })).toBe(10);
    expect(valueOf(samples, 'tenantgraph_db_pool_connections', { state: 'total' })).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'tenantgraph_db_pool_waiting_requests')).toBe(true);
    expect(valueOf(samples, 'tenantgraph_db_gate_open')).toBe(1);
    expect(valueOf(samples, 'tenantgraph_open_subscriptions')).toBe(0);
    expect(valueOf(samples, 'tenantgraph_tenant_largest_share', { resource: 'requests' })).toBeGreaterThan(0);
    // Process metrics (prom-client's defaults).
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    // No tenant, user or request id in any label.
    const labelValues = samples.flatMap((sample) => Object.values(sample.labels));
    expect(labelValues.filter((value) => UUID.test(value))).toEqual([]);
  });

  it("counts the job queue from graphile-worker's table and its attempts by task", async () => {
    const pool = new pg.Pool({ connectionString: database.ownerUrl, max: 1 });
    try {
      const events = new EventEmitter();
      const metrics = createMetrics(() => ({ jobQueue }));
      const jobQueue = watchJobs({ events, pool, tasks: ['send_invitation_email'] }, metrics);
      events.emit('job:success', { job: { task_identifier: 'send_invitation_email' } });
      events.emit('job:error', { job: { task_identifier: 'send_invitation_email' } });
      events.emit('job:failed', { job: { task_identifier: 'made_up_by_someone' } });
      const samples = parseMetrics(await metrics.registry.metrics());
      expect(
        valueOf(samples, 'tenantgraph_jobs_total', { task: 'send_invitation_email', result: 'success' }),
      ).toBe(1);
      expect(
        valueOf(samples, 'tenantgraph_jobs_total', { task: 'send_invitation_email', result: 'error' }),
      ).toBe(1);
      expect(valueOf(samples, 'tenantgraph_jobs_total', { task: 'other', result: 'failed' })).toBe(1);
      expect(
        samples
          .filter((s) => s.name === 'tenantgraph_jobs_queued')
          .map((s) => s.labels.state)
          .sort(),
      ).toEqual(['failed', 'ready', 'running', 'scheduled']);
    } finally {
      await pool.end();
    }
  });
});

describe('per-tenant usage without per-tenant series', () => {
  // 500 requests: about 3 s on an idle 2-core machine, several times that on a busy one;
  // what this asserts is the number of series, not the speed.
  it(
    '500 distinct tenants add no series: the count stays under a fixed bound',
    { timeout: 120_000 },
    async () => {
      const tenants = Array.from({ length: 500 }, () => ({ id: randomUUID(), userId: randomUUID() }));
      await asOwner(async (db) => {
        await db.query(
          `with t as (select * from unnest($1::uuid[], $2::uuid[]) as x(id, user_id)),
              tenants as (insert into app_public.tenants (id, slug, name) select id, 'series-' || id, 'Series ' || id from t),
              users as (insert into app_public.users (id, email) select user_id, user_id || '@series.test' from t)
         insert into app_public.memberships (tenant_id, user_id, role) select id, user_id, 'viewer' from t`,
          [tenants.map((t) => t.id), tenants.map((t) => t.userId)],
        );
      });
      const send = (tenant: (typeof tenants)[number]) =>
        api.post(
          { query: 'query Whatever { currentTenant { name } products(first: 5) { nodes { name } } }' },
          { authorization: `Bearer ${tokenFor({ userId: tenant.userId, tenantId: tenant.id })}` },
        );
      expect((await send(tenants[0]!)).status).toBe(200);
      const afterOne = tenantgraph(await api.scrape()).length;

      for (let i = 1; i < tenants.length; i += 10) {
        const statuses = await Promise.all(
          tenants.slice(i, i + 10).map(async (tenant) => (await send(tenant)).status),
        );
        expect(statuses.every((status) => status === 200)).toBe(true);
      }
      const samples = tenantgraph(await api.scrape());
      expect(samples.length).toBe(afterOne);
      expect(samples.length).toBeLessThan(400);
      expect(valueOf(samples, 'tenantgraph_tenants_active')).toBeGreaterThanOrEqual(500);

      const top = await fetch(`${api.observability.url}/admin/tenants/top?limit=1000&by=requests`, {
        headers: { authorization: `Bearer ${api.adminToken}` },
      }).then((r) => r.json() as Promise<any>);
      const seen = new Set(top.tenants.map((t: { tenantId: string }) => t.tenantId));
      expect(tenants.every((tenant) => seen.has(tenant.id))).toBe(true);
    },
  );

  it('the top-N ranks a heavy tenant first, with its exact request count and its share', async () => {
    const heavy = await createTenant('heavy');
    const light = await Promise.all([createTenant('light'), createTenant('light')]);
    const as = (tenant: typeof heavy) => ({
      authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
    });
    // 15 × about 15 points: within the 300-point budget of this server.
    for (let i = 0; i < 15; i++)
      expect(
        (await api.post({ query: '{ products(first: 5) { nodes { name category { name } } } }' }, as(heavy)))
          .status,
      ).toBe(200);
    for (const tenant of light)
      expect((await api.post({ query: '{ currentTenant { name } }' }, as(tenant))).status).toBe(200);

    const response = await fetch(`${api.observability.url}/admin/tenants/top?limit=3&by=requests`, {
      headers: { authorization: `Bearer ${api.adminToken}` },
    });
    expect(response.status).toBe(200);
    const top: any = await response.json();
    expect(top.by).toBe('requests');
    // Named for the operator by its slug too.
    expect(top.tenants[0]).toMatchObject({ tenantId: heavy.id, slug: heavy.slug, requests: 15, errors: 0 });
    expect(top.tenants[0].databaseMs).toBeGreaterThan(0);
    expect(top.tenants[0].costPoints).toBeGreaterThan(15 * 10);
    const byCost = await fetch(`${api.observability.url}/admin/tenants/top?limit=1`, {
      headers: { authorization: `Bearer ${api.adminToken}` },
    }).then((r) => r.json() as Promise<any>);
    expect(byCost.tenants).toHaveLength(1);
    expect(byCost.tenants[0].tenantId).toBe(heavy.id);
    expect(byCost.tenants[0].share.costPoints).toBeGreaterThan(0);
    expect(byCost.windowSeconds).toBeGreaterThan(240);

    // npm run tenants:top, as an operator runs it, summing two processes (here the same one twice).
    const { stdout } = await run(
      process.execPath,
      [
        'src/cli/tenants-top.ts',
        '--url',
        api.observability.url,
        '--url',
        api.observability.url,
        '--by',
        'requests',
        '--limit',
        '1',
        '--json',
      ],
      {
        env: { PATH: process.env.PATH, ADMIN_TOKEN: api.adminToken },
      },
    );
    const cli = JSON.parse(stdout);
    expect(cli).toMatchObject({
      processes: 2,
      by: 'requests',
      tenants: [{ tenantId: heavy.id, slug: heavy.slug, requests: 30 }],
    });
    const table = await run(
      process.execPath,
      ['src/cli/tenants-top.ts', '--url', api.observability.url, '--by', 'requests', '--limit', '3'],
      { env: { PATH: process.env.PATH, ADMIN_TOKEN: api.adminToken } },
    );
    expect(table.stdout.split('\n')[3]).toMatch(new RegExp(`^${heavy.slug}\\s+${heavy.id}\\s+15\\s`));
    await expect(
      run(process.execPath, ['src/cli/tenants-top.ts', '--url', api.observability.url], {
        env: { PATH: process.env.PATH, ADMIN_TOKEN: 'x'.repeat(40) },
      }),
    ).rejects.toThrow(/401/);
  });

  it("refuses the top-N without the admin token, with another token, and to a tenant's own token", async () => {
    const tenant = await createTenant('nosy');
    const tenantToken = tokenFor({ userId: tenant.users.owner, tenantId: tenant.id });
    const top = `${api.observability.url}/admin/tenants/top`;
    expect((await fetch(top)).status).toBe(401);
    expect((await fetch(top, { headers: { authorization: `Bearer ${api.adminToken}x` } })).status).toBe(401);
    expect((await fetch(top, { headers: { authorization: `Bearer ${tenantToken}` } })).status).toBe(401);
    expect(
      (await fetch(`${top}?minutes=99`, { headers: { authorization: `Bearer ${api.adminToken}` } })).status,
    ).toBe(400);
    // The API's port serves neither.
    expect((await fetch(`${api.server.url}/metrics`)).status).toBe(404);
    expect(
      (
        await fetch(`${api.server.url}/admin/tenants/top`, {
          headers: { authorization: `Bearer ${api.adminToken}` },
        })
      ).status,
    ).toBe(404);
  });
});
