// OpenTelemetry traces: the Node SDK with the HTTP, Express and pg instrumentations,
// exporting where the standard variables say (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, OTEL_BSP_*, …).
// main.ts loads this module only when tracing-config.ts says an exporter is configured,
// and before anything imports http, express or pg: our code is ESM, and ESM imports can
// only be patched by a loader hook registered before they load (import-in-the-middle, as
// synchronous in-thread hooks limited to the modules instrumented).
//
// What a span may carry: the request id (the X-Request-Id of the response, the log's
// req.id, the audit trail's request_id), the operation name, the verified tenant id, the
// outcome and the cost. Never a header, a body, GraphQL variables or SQL parameters:
// pg's statement text is kept with its literals replaced by `?` (parameters are never
// recorded: enhancedDatabaseReporting stays off), URLs lose their query string, and a
// failed statement's status says its SQLSTATE, not PostgreSQL's message (which can quote
// a value).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { register as registerImportHooks } from 'import-in-the-middle/register-hooks.mjs';
import type { Attributes, Span } from '@opentelemetry/api';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { Identity } from '../auth/claims.ts';
import type { Usage } from '../limits/plugin.ts';

/** The modules the loader hook wraps: the instrumented ones, nothing else. */
const INSTRUMENTED_MODULES = ['http', 'https', 'express', 'pg', 'pg-pool'];
/** Probes every few seconds would drown the traces that matter. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz']);

export const ATTRIBUTES = {
  requestId: 'tenantgraph.request_id',
  tenantId: 'tenantgraph.tenant_id',
  outcome: 'tenantgraph.outcome',
  requestedCost: 'tenantgraph.cost.requested',
  actualCost: 'tenantgraph.cost.actual',
  operationName: 'graphql.operation.name',
} as const;

/** SQL with its string and number literals replaced by `?` ($1 placeholders stay). */
export function withoutLiterals(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'/g, '?').replace(/(?<![\w$.])\d+(?:\.\d+)?(?![\w.])/g, '?');
}

const withoutQuery = (url: string) => url.replace(/\?.*$/s, '');

/** The last look at a span before it is exported: anything that could hold a value goes. */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(): void {}
  onEnding(span: Span & { attributes: Attributes; status: { code: number; message?: string } }): void {
    const { attributes } = span;
    for (const key of ['db.query.text', 'db.statement']) {
      const text = attributes[key];
      if (typeof text === 'string') span.setAttribute(key, withoutLiterals(text));
    }
    for (const key of ['url.full', 'http.url', 'http.target']) {
      const url = attributes[key];
      if (typeof url === 'string') span.setAttribute(key, withoutQuery(url));
    }
    if (attributes['url.query'] !== undefined) span.setAttribute('url.query', '');
    if (
      span.status.message !== undefined &&
      (attributes['db.system.name'] ?? attributes['db.system']) !== undefined
    ) {
      span.setStatus({
        code: span.status.code,
        message: `PostgreSQL error ${String(attributes['error.type'] ?? '')}`.trim(),
      });
    }
  }
  onEnd(): void {}
  forceFlush = async () => {};
  shutdown = async () => {};
}

type ObservedResponse = ServerResponse & {
  locals?: { identity?: Identity | null; usage?: Usage; errorCodes?: string[] };
};

/** The request's identity in the HTTP server span, set just before it ends. */
function annotate(span: Span, request: IncomingMessage, response: ServerResponse): void {
  const requestId = (request as IncomingMessage & { id?: unknown }).id;
  if (requestId !== undefined) span.setAttribute(ATTRIBUTES.requestId, String(requestId));
  const { identity, usage, errorCodes } = (response as ObservedResponse).locals ?? {};
  if (usage?.operationName) span.setAttribute(ATTRIBUTES.operationName, usage.operationName);
  if (identity?.verifiedTenantId) span.setAttribute(ATTRIBUTES.tenantId, identity.verifiedTenantId);
  if (usage?.requestedCost !== undefined) span.setAttribute(ATTRIBUTES.requestedCost, usage.requestedCost);
  if (usage?.actualCost !== undefined) span.setAttribute(ATTRIBUTES.actualCost, usage.actualCost);
  if (errorCodes?.[0]) span.setAttribute(ATTRIBUTES.outcome, errorCodes[0]);
}

/** The exporters OTEL_TRACES_EXPORTER names (otlp by default, over OTEL_EXPORTER_OTLP_PROTOCOL). */
async function exportersFromEnv(env: NodeJS.ProcessEnv): Promise<SpanExporter[]> {
  const names = [
    ...new Set(
      (env.OTEL_TRACES_EXPORTER ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    ),
  ];
  const exporters: SpanExporter[] = [];
  for (const name of names.length > 0 ? names : ['otlp']) {
    if (name === 'console') exporters.push(new ConsoleSpanExporter());
    else if (name === 'otlp') {
      const protocol = (
        env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
        env.OTEL_EXPORTER_OTLP_PROTOCOL ??
        'http/protobuf'
      ).trim();
      if (protocol === 'grpc')
        exporters.push(new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter());
      else if (protocol === 'http/json')
        exporters.push(new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter());
      else exporters.push(new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter());
    } else throw new Error(`OTEL_TRACES_EXPORTER: ${name} is not one of otlp, console, none`);
  }
  return exporters;
}

export interface Tracing {
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing; call before http, express or pg are imported. `exporters` replaces the
 * ones the environment names (the bench's in-memory exporter).
 */
export async function startTracing({
  env = process.env,
  exporters,
}: { env?: NodeJS.ProcessEnv; exporters?: SpanExporter[] } = {}): Promise<Tracing> {
  registerImportHooks({ include: INSTRUMENTED_MODULES });
  const processors: SpanProcessor[] = [
    new RedactingSpanProcessor(),
    ...(exporters ?? (await exportersFromEnv(env))).map((exporter) => new BatchSpanProcessor({ exporter })),
  ];
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'tenantgraph',
    spanProcessors: processors,
    // Traces only: metrics are Prometheus' (metrics.ts), logs pino's.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has(withoutQuery(request.url ?? '')),
        applyCustomAttributesOnSpan: (span, request, response) => {
          if (response instanceof Object && 'statusCode' in response && 'setHeader' in response)
            annotate(span, request as IncomingMessage, response as ServerResponse);
        },
      }),
      new ExpressInstrumentation(),
      // Statements of requests only (not the gate's probe, the worker's polling); never their parameters.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
