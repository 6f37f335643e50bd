// Portability: one tenant's export and import beside COPY of the same rows, the ceiling
// (docs/portability.md, "Throughput"). The measuring is in lib/portability.ts; it makes
// its own tenants in the bench database and erases them when done.
import { runPortability } from '../lib/portability.ts';
import { positiveIntegers, type Section, record, type SectionContext } from './section.ts';

export const portability: Section = {
  name: 'portability',
  api: 'own',
  options: {
    'portability-rows': { default: '100000', help: 'products of the tenant exported and imported' },
  },
  prepare(args) {
    const settings = positiveIntegers(args, ['portability-rows']);
    return {
      // Not load points of --duration: an export, an import and their two COPYs, about a minute.
      points: () => 2,
      run: async (context: SectionContext) => {
        const { log } = context;
        log('\nPortability: export and import of one tenant beside COPY of the same rows');
        await record(context, 'portability', () =>
          runPortability({
            ownerUrl: context.database.ownerUrl,
            rows: settings['portability-rows'],
            log,
          }),
        );
      },
    };
  },
};
