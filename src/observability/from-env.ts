// The operators' listener as the environment configures it: only when METRICS_PORT is
// set, so an API without it loads no prom-client and counts nothing.
import type { Env } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Observability } from './observability.ts';

/** `portOffset`: this process's place among several (API_PROCESSES > 1), added to METRICS_PORT. */
export async function observabilityFromEnv(
  env: Env,
  logger: Logger,
  portOffset = 0,
): Promise<Observability | undefined> {
  if (env.METRICS_PORT === undefined) return undefined;
  const { startObservability } = await import('./observability.ts');
  const observability = await startObservability({
    host: env.METRICS_HOST,
    port: env.METRICS_PORT + portOffset,
    adminToken: env.ADMIN_TOKEN,
    operationNames: env.METRICS_OPERATION_NAMES.split(',')
      .map((name) => name.trim())
      .filter(Boolean),
    logger,
  });
  logger.info({ url: observability.url, adminEndpoint: env.ADMIN_TOKEN !== undefined }, 'metrics listening');
  return observability;
}
