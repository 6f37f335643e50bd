// Scaling: the list scenario through `npm start` with one API process and with
// API_PROCESSES=N, alternating. The measuring is in lib/scaling.ts.
import { runScaling } from '../lib/scaling.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

export const scaling: Section = {
  name: 'scaling',
  api: 'own',
  options: {
    'scaling-processes': { default: '2', help: 'API_PROCESSES compared with one process' },
    'scaling-connections': { default: '16', help: 'connections of every phase' },
    'scaling-rounds': { default: '2', help: 'phases of each, alternating' },
  },
  prepare(args) {
    const settings = positiveIntegers(args, ['scaling-processes', 'scaling-connections', 'scaling-rounds']);
    return {
      points: () => 2 * settings['scaling-rounds'] + 1,
      run: async (context: SectionContext) => {
        const { log } = context;
        const processes = settings['scaling-processes'];
        log(`\nScaling: list through npm start with 1 and with ${processes} API processes`);
        const list = scenarioNamed('list');
        await record(context, 'scaling', () =>
          runScaling({
            processes,
            connections: settings['scaling-connections'],
            rounds: settings['scaling-rounds'],
            seconds: context.seconds,
            start: (count) => context.startApi(undefined, { processes: count }),
            load: (api, connections, seconds) =>
              context.apiLoad(api, list, context.tenants, connections, seconds),
            measure: (apiPid, run) => context.measure(apiPid, run),
            log,
          }),
        );
      },
    };
  },
};
