// Metrics and per-tenant usage for one process, served on the operators' listener
// (metrics-server.ts). `npm start` creates it when METRICS_PORT is set and hands it to the
// API server and the job worker; without it nothing here is loaded or counted.
import type express from 'express';
import type pg from 'pg';
import type { Logger } from '../logger.ts';
import { watchJobs, type ObservedWorker } from './job-metrics.ts';
import { createMetrics, type Metrics, type MetricsSources } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import { createOperationLabel, operationNamesOf } from './operation-names.ts';
import { ObservabilityPlugin } from './plugin.ts';
import { observeRequests } from './request-observer.ts';
import { createUsageTop, type UsageTop } from './usage-top.ts';

export interface ObservabilityOptions {
  host: string;
  port: number;
  adminToken?: string | undefined;
  /** Operation names counted under their own label besides the trusted documents' (METRICS_OPERATION_NAMES). */
  operationNames?: readonly string[];
  logger: Logger;
}

export interface Observability {
  /** The listener's base URL: /metrics, /admin/tenants/top. */
  url: string;
  metrics: Metrics;
  usageTop: UsageTop;
  /** Called by the API server once: its pool, gate and trusted documents; gives back its middleware and plugin. */
  attach(server: {
    pool: pg.Pool;
    databaseGateOpen: () => boolean;
    trustedDocuments?: Record<string, string> | undefined;
  }): {
    middleware: express.RequestHandler;
    plugin: GraphileConfig.Plugin;
  };
  /** Counts the worker's jobs and reads its queue on each scrape. */
  watchWorker(worker: ObservedWorker): void;
  /** Where the open-subscriptions gauge reads its count (realtime). */
  countSubscriptions(count: () => number): void;
  close(): Promise<void>;
}

// The usage's keys are tenant ids, or labels such as NO_TENANT.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startObservability(options: ObservabilityOptions): Promise<Observability> {
  const sources: MetricsSources = {};
  let apiPool: pg.Pool | undefined;
  const metrics = createMetrics(() => sources);
  const usageTop = createUsageTop();
  sources.usageShares = () => usageTop.shares();
  const server = await startMetricsServer({
    host: options.host,
    port: options.port,
    registry: metrics.registry,
    usageTop,
    tenantSlugs: async (ids) => {
      // The API's pool once attached (the authenticator, app_private.tenant_slugs); none before.
      if (!apiPool || ids.length === 0) return new Map();
      const uuids = ids.filter((id) => UUID.test(id));
      const { rows } = await apiPool.query<{ id: string; slug: string }>(
        'select id, slug from app_private.tenant_slugs($1::uuid[])',
        [uuids],
      );
      return new Map(rows.map((row) => [row.id, row.slug]));
    },
    adminToken: options.adminToken,
    logger: options.logger,
  });
  return {
    url: server.url,
    metrics,
    usageTop,
    attach({ pool, databaseGateOpen, trustedDocuments }) {
      sources.pool = pool;
      apiPool = pool;
      sources.databaseGateOpen = databaseGateOpen;
      const operationLabel = createOperationLabel([
        ...operationNamesOf(trustedDocuments ?? {}),
        ...(options.operationNames ?? []),
      ]);
      return { middleware: observeRequests(metrics, usageTop, operationLabel), plugin: ObservabilityPlugin };
    },
    watchWorker(worker) {
      sources.jobQueue = watchJobs(worker, metrics);
    },
    countSubscriptions(count) {
      sources.openSubscriptions = count;
    },
    close: () => server.close(),
  };
}
