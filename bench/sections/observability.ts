// Observability: the list scenario on three API processes, with metrics (scraped every
// second), with tracing to an in-memory exporter, and with neither; memory after start-up.
// The measuring is in lib/observability.ts.
import { freePort } from '../../support/free-port.ts';
import { runObservability } from '../lib/observability.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

export const observability: Section = {
  name: 'observability',
  api: 'own',
  options: {
    'observability-connections': { default: '16', help: 'connections of every phase' },
    'observability-rounds': { default: '2', help: 'rotations of off, metrics, tracing' },
  },
  prepare(args) {
    const settings = positiveIntegers(args, ['observability-connections', 'observability-rounds']);
    return {
      points: () => 3 * settings['observability-rounds'],
      run: async (context: SectionContext) => {
        const { log } = context;
        log('\nObservability: list with metrics and with tracing (in-memory exporter), against neither');
        const list = scenarioNamed('list');
        await record(context, 'observability', () =>
          runObservability({
            tenants: context.tenants,
            connections: settings['observability-connections'],
            rounds: settings['observability-rounds'],
            seconds: context.seconds,
            startApi: async (variant) => {
              const metricsPort = variant === 'metrics' ? await freePort() : undefined;
              const api = await context.startApi(undefined, {
                env: metricsPort ? { METRICS_PORT: String(metricsPort) } : {},
                tracing: variant === 'tracing',
              });
              return { api, ...(metricsPort && { metricsUrl: `http://127.0.0.1:${metricsPort}` }) };
            },
            load: (api, tenants, connections, duration) =>
              context.apiLoad(api, list, tenants, connections, duration),
            measure: (apiPid, run) => context.measure(apiPid, run),
            log,
          }),
        );
      },
    };
  },
};
