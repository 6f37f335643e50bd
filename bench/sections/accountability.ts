// Accountability: createProduct with and without the audit trigger, and the list with
// API keys against the list with tokens. The measuring is in lib/accountability.ts.
import { readEnv } from '../../src/config.ts';
import { runAccountability } from '../lib/accountability.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

export const accountability: Section = {
  name: 'accountability',
  api: 'own',
  options: {
    'accountability-tenants': {
      default: '300',
      help: 'tenants the requests are spread over, one API key each',
    },
    'accountability-connections': { default: '16', help: 'connections of every phase' },
    'accountability-rounds': {
      default: '2',
      help: 'phases without the audit trigger (with keys), each between two with (with tokens)',
    },
  },
  prepare(args) {
    const names = ['accountability-tenants', 'accountability-connections', 'accountability-rounds'] as const;
    const settings = positiveIntegers(args, [...names]);
    const rounds = settings['accountability-rounds'];
    return {
      points: () => 2 * (2 * rounds + 1) + 2,
      run: async (context: SectionContext) => {
        const { log } = context;
        log(
          '\nAccountability: createProduct with and without the audit trigger; ' +
            'list with API keys and with tokens',
        );
        await record(context, 'accountability', () =>
          runAccountability({
            ownerUrl: context.database.ownerUrl,
            secret: context.secret,
            tenants: context.tenants,
            count: settings['accountability-tenants'],
            connections: settings['accountability-connections'],
            rounds,
            seconds: context.seconds,
            apiKeyCacheSeconds: readEnv({ ...process.env, ...context.apiEnv }).API_KEY_CACHE_SECONDS,
            startApi: () => context.startApi(),
            load: (api, name, tenants, connections, duration) =>
              context.apiLoad(api, scenarioNamed(name), tenants, connections, duration),
            measure: (apiPid, run) => context.measure(apiPid, run),
            log,
          }),
        );
      },
    };
  },
};
