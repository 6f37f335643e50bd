// Traces from `npm start`'s own process, exported over OTLP to a collector in this test:
// spans of http, express and pg in one trace, the request id, operation and verified
// tenant on the server span, and never a token, a variable's value or a SQL parameter.
// Without an exporter configured, OpenTelemetry is not even imported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, type ApiProcess } from './support/api-process.ts';
import { tokenFor } from './support/api.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { freePort } from '../support/free-port.ts';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.ts';
import { withoutLiterals } from '../src/observability/tracing.ts';

// Logs every module resolved under these names to stderr, for the process's output.
const IMPORT_LOG = `data:text/javascript,${encodeURIComponent(
  `import { registerHooks } from 'node:module';
   registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); if (/@opentelemetry|import-in-the-middle|prom-client/.test(resolved.url)) process.stderr.write('IMPORTED ' + resolved.url + '\\n'); return resolved; } });`,
)}`;

const SERVER = 2;
const CLIENT = 3;

describe('tracing with an OTLP exporter configured', () => {
  let receiver: OtlpReceiver;
  let api: ApiProcess;
  let tenant: TenantFixture;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tenant = await createTenant('traced');
    api = await startApiProcess({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_SERVICE_NAME: 'tenantgraph-test',
        WORKER: 'off',
        TRUSTED_DOCUMENTS: 'off',
      },
    });
  }, 90_000);
  afterAll(async () => {
    api?.kill();
    await receiver?.close();
  });

  it('one trace per request: http, express and pg spans, with the request id, operation and verified tenant; no token, variable or parameter', async () => {
    const token = tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id });
    const needle = 'Hammer-needle-4711';
    const requestId = `trace-test-${Date.now()}`;
    const response = await fetch(`${api.url}/graphql?secret=query-string-value`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-request-id': requestId,
      },
      body: JSON.stringify({
        query:
          'query FindProducts($needle: String!, $max: BigFloat!) { products(filter: { name: { notEqualTo: $needle }, price: { lessThan: $max } }, first: 7) { nodes { name } } }',
        variables: { needle, max: '98765.43' },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe(requestId);

    const deadline = Date.now() + 15_000;
    let server = receiver.spans.find((span) => span.attributes['tenantgraph.request_id'] === requestId);
    while (!server && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      server = receiver.spans.find((span) => span.attributes['tenantgraph.request_id'] === requestId);
    }
    expect(
      server,
      `no span with the request id; got ${receiver.spans.map((s) => s.name).join(', ')}`,
    ).toBeDefined();
    // The pg and express spans end before the server span, so they are exported with it or before.
    const trace = receiver.spans.filter((span) => span.traceId === server!.traceId);

    expect(server).toMatchObject({ kind: SERVER, scope: '@opentelemetry/instrumentation-http' });
    expect(server!.attributes).toMatchObject({
      'tenantgraph.request_id': requestId,
      'graphql.operation.name': 'FindProducts',
      'tenantgraph.tenant_id': tenant.id,
      'http.response.status_code': 200,
    });
    expect(server!.parentSpanId).toBeUndefined();
    expect(trace.some((span) => span.scope === '@opentelemetry/instrumentation-express')).toBe(true);
    const statements = trace.filter(
      (span) =>
        span.scope === '@opentelemetry/instrumentation-pg' &&
        span.kind === CLIENT &&
        typeof span.attributes['db.query.text'] === 'string',
    );
    expect(statements.length).toBeGreaterThan(0);
    expect(
      statements.some((span) =>
        /from "app_public"."products"/.test(String(span.attributes['db.query.text'])),
      ),
    ).toBe(true);

    const exported = receiver.raw.join('\n');
    for (const secret of [
      token,
      token.split('.')[2]!,
      needle,
      '98765.43',
      'query-string-value',
      tenant.users.viewer,
    ])
      expect(exported).not.toContain(secret);
    expect(exported.toLowerCase()).not.toContain('authorization');
  });

  it('keeps no literal in statement text', () => {
    expect(
      withoutLiterals(`select 'o''brien', 42, 3.5, $1::int8, x.col2 from t where __products__1.id = 7`),
    ).toBe('select ?, ?, ?, $1::int8, x.col2 from t where __products__1.id = ?');
  });
});

describe('tracing without an exporter', () => {
  it('imports no OpenTelemetry module, nor prom-client without METRICS_PORT', async () => {
    const api = await startApiProcess({
      env: { WORKER: 'off', TRUSTED_DOCUMENTS: 'off' },
      nodeFlags: [`--import=${IMPORT_LOG}`],
    });
    try {
      const response = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(response.status).toBe(200);
      expect(api.output()).not.toContain('IMPORTED');
    } finally {
      api.kill();
    }
  }, 90_000);

  it('the same hook sees OpenTelemetry when an exporter is configured (the check can fail)', async () => {
    const api = await startApiProcess({
      env: {
        WORKER: 'off',
        TRUSTED_DOCUMENTS: 'off',
        OTEL_TRACES_EXPORTER: 'console',
        METRICS_PORT: String(await freePort()),
      },
      nodeFlags: [`--import=${IMPORT_LOG}`],
    });
    try {
      expect(api.output()).toMatch(/IMPORTED .*@opentelemetry\/sdk-node/);
      expect(api.output()).toMatch(/IMPORTED .*prom-client/);
    } finally {
      api.kill();
    }
  }, 90_000);
});
