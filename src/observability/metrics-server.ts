// The operators' listener, apart from the API's: GET /metrics for Prometheus, and
// GET /admin/tenants/top for the per-tenant usage, which also needs the admin token.
// It listens on METRICS_HOST:METRICS_PORT (loopback unless configured), so neither is
// reachable through the API's port, where tenants are.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { RESOURCES, type Resource, type UsageTop } from './usage-top.ts';

export const METRICS_PATH = '/metrics';
export const TOP_TENANTS_PATH = '/admin/tenants/top';

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  usageTop: UsageTop;
  /** The slugs of these tenants (those that exist), so operators read names, not ids. */
  tenantSlugs: (ids: string[]) => Promise<Map<string, string>>;
  /** Bearer token of the admin endpoint; unset: the endpoint is off (404). */
  adminToken?: string | undefined;
  logger: Logger;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares digests, so neither the token's content nor its length shows in the timing. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token));
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json') {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function topTenants(
  req: IncomingMessage,
  res: ServerResponse,
  { usageTop, adminToken, tenantSlugs, logger }: MetricsServerOptions,
) {
  if (!adminToken) return send(res, 404, { error: 'The admin endpoint is off: set ADMIN_TOKEN.' });
  if (!tokenMatches(req.headers.authorization, adminToken)) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    return send(res, 401, { error: 'Send Authorization: Bearer <ADMIN_TOKEN>.' });
  }
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const minutes = Number(query.get('minutes') ?? 5);
  const limit = Number(query.get('limit') ?? 10);
  const by = (query.get('by') ?? 'costPoints') as Resource;
  if (
    !Number.isInteger(minutes) ||
    minutes < 1 ||
    minutes > usageTop.minutes ||
    !Number.isInteger(limit) ||
    limit < 1 ||
    limit > 1000 ||
    !RESOURCES.includes(by)
  ) {
    return send(res, 400, {
      error: `minutes: 1 to ${usageTop.minutes}; limit: 1 to 1000; by: one of ${RESOURCES.join(', ')}.`,
    });
  }
  const view = usageTop.top({ minutes, limit, by });
  // A slug that cannot be read (the database away) leaves the ids: the view still helps.
  const slugs = await tenantSlugs(view.tenants.map((tenant) => tenant.tenantId)).catch((error: unknown) => {
    logger.warn({ err: error }, 'tenant slugs could not be read for the top-N');
    return new Map<string, string>();
  });
  send(res, 200, {
    ...view,
    tenants: view.tenants.map((tenant) => ({ ...tenant, slug: slugs.get(tenant.tenantId) ?? null })),
  });
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, { error: 'GET only.' });
    if (path === METRICS_PATH) {
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (error: unknown) => {
          logger.error({ err: error }, 'collecting metrics failed');
          send(res, 500, { error: 'Collecting metrics failed; see the log.' });
        },
      );
      return;
    }
    if (path === TOP_TENANTS_PATH) {
      topTenants(req, res, options).catch((error: unknown) => {
        logger.error({ err: error }, 'the top-N failed');
        send(res, 500, { error: 'The top-N failed; see the log.' });
      });
      return;
    }
    send(res, 404, { error: `No such route: ${METRICS_PATH} or ${TOP_TENANTS_PATH}.` });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
