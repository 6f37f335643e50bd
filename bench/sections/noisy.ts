// Noisy neighbour: victims list products, alone and while one tenant floods the API
// with the heaviest request its budget allows. The measuring is in lib/noisy-neighbour.ts.
import { runNoisyNeighbour } from '../lib/noisy-neighbour.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

export const noisy: Section = {
  name: 'noisy',
  api: 'own',
  options: {
    victims: { default: '499', help: 'tenants listing products while one other floods' },
    'victim-connections': { default: '4', help: "the victims' connections" },
    'noisy-rounds': { default: '2', help: 'phases with the noisy tenant, each between two without' },
  },
  prepare(args) {
    const settings = positiveIntegers(args, ['victims', 'victim-connections', 'noisy-rounds']);
    return {
      points: () => 2 * settings['noisy-rounds'] + 3,
      run: async (context: SectionContext) => {
        const { log } = context;
        const count = Math.min(settings.victims, context.tenants.length);
        log(`\nNoisy neighbour: list for ${count} tenants, alone and while one other tenant floods`);
        const list = scenarioNamed('list');
        await record(context, 'noisy', () =>
          runNoisyNeighbour({
            ownerUrl: context.database.ownerUrl,
            secret: context.secret,
            tenants: context.tenants,
            victims: settings.victims,
            victimConnections: settings['victim-connections'],
            rounds: settings['noisy-rounds'],
            seconds: context.seconds,
            startApi: () => context.startApi(),
            // The cluster primary does not answer memory requests.
            singleProcess: context.single,
            victimLoad: (api, victims, connections, duration) =>
              context.apiLoad(api, list, victims, connections, duration),
            measure: (apiPid, run) => context.measure(apiPid, run),
            log,
          }),
        );
      },
    };
  },
};
