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

export async function startObservability(options: ObservabilityOptions): Promise<Observability> {
  const sources: MetricsSources = {};
  const metrics = createMetrics(() => sources);
  const usageTop = createUsageTop();
  sources.usageShares = () => usageTop.shares();
  const server = await startMetricsServer({
    host: options.host,
    port: options.port,
    registry: metrics.registry,
    usageTop,
    adminToken: options.adminToken,
    logger: options.logger,
  });
  return {
    url: server.url,
    metrics,
    usageTop,
    attach({ pool, databaseGateOpen, trustedDocuments }) {
      sources.pool = pool;
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
