// Realtime: subscribers on many tenants, writes at a steady rate; delivery latency from
// commit to client, events lost, cross-tenant deliveries, memory per open subscription.
// The measuring is in lib/realtime.ts.
import { runRealtime } from '../lib/realtime.ts';
import { positiveIntegers, record, type Section, type SectionContext } from './section.ts';

export const realtime: Section = {
  name: 'realtime',
  api: 'own',
  options: {
    'realtime-tenants': { default: '50', help: 'tenants subscribed' },
    'realtime-subscribers': { default: '10', help: 'subscribers per tenant, one websocket each' },
    'realtime-writes': { default: '50', help: 'inserts per second, round-robin over the tenants' },
  },
  prepare(args) {
    const settings = positiveIntegers(args, ['realtime-tenants', 'realtime-subscribers', 'realtime-writes']);
    return {
      points: () => 1,
      run: async (context: SectionContext) => {
        const { log } = context;
        const tenantCount = settings['realtime-tenants'];
        const subscribersPerTenant = settings['realtime-subscribers'];
        const writesPerSecond = settings['realtime-writes'];
        log(
          `\nRealtime: ${tenantCount * subscribersPerTenant} subscribers on ${tenantCount} tenants, ` +
            `${writesPerSecond} writes/s`,
        );
        await record(context, 'realtime', async () => {
          const result = await runRealtime({
            ownerUrl: context.database.ownerUrl,
            tenants: context.tenants,
            tenantCount,
            subscribersPerTenant,
            writesPerSecond,
            seconds: context.seconds,
            singleProcess: context.single,
            dbPid: context.dbPid,
            startApi: () => context.startApi(),
            log,
          });
          const { p50, p99 } = result.latencyMs;
          log(
            `  lost ${result.lost} of ${result.expected}, cross-tenant ${result.crossTenant}, p50 ${p50} p99 ${p99} ms`,
          );
          return result;
        });
      },
    };
  },
};
