// Does a tenant's request slow down as the database grows? The list scenario on the
// --database data set and on a 100-tenant one, back to back, through two API processes.
import { prepareDatabase } from '../../src/database/migrations.ts';
import {
  benchDatabaseExists,
  queryOne,
  recreateDatabase,
  SMALL_BENCH_DATABASE,
  type BenchServer,
} from '../lib/database.ts';
import { loadBenchData, loadedShape, type LoadedShape } from '../lib/load-data.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { benchTenants } from '../lib/tenants.ts';
import type { Section, SectionContext } from './section.ts';

async function ensureSmallDatabase(
  server: BenchServer,
  like: LoadedShape,
  log: (line: string) => void,
): Promise<LoadedShape> {
  const location = server.database(SMALL_BENCH_DATABASE);
  const wanted = {
    tenants: 100,
    productsPerTenant: like.productsPerTenant,
    categoriesPerTenant: like.categoriesPerTenant,
  };
  const existing = (await benchDatabaseExists(server, SMALL_BENCH_DATABASE))
    ? await loadedShape(location.ownerUrl)
    : undefined;
  if (
    existing &&
    existing.tenants === wanted.tenants &&
    existing.productsPerTenant === wanted.productsPerTenant &&
    existing.categoriesPerTenant === wanted.categoriesPerTenant
  ) {
    await prepareDatabase(location);
    return existing;
  }
  log(
    `Loading ${SMALL_BENCH_DATABASE} (${wanted.tenants} tenants x ${wanted.productsPerTenant} products) ` +
      'for the scale comparison...',
  );
  await recreateDatabase(server, SMALL_BENCH_DATABASE);
  await loadBenchData(location.ownerUrl, location.roles.authenticator.name, wanted);
  return (await loadedShape(location.ownerUrl))!;
}

async function runScale(context: SectionContext): Promise<void> {
  const { api, database, tenants, log, describe, measure } = context;
  const smallShape = await ensureSmallDatabase(context.server, context.shape, log);
  const small = context.server.database(SMALL_BENCH_DATABASE);
  const smallTenants = await benchTenants(small.ownerUrl, context.secret, context.encode);
  const smallApi = await context.startApi(small);
  const smallProducts = Number(await queryOne(small.ownerUrl, 'select count(*) from app_public.products'));
  log(
    `\nScale: list at ${context.shape.tenants} tenants (${context.products} products) ` +
      `vs ${smallShape.tenants} tenants (${smallProducts} products)`,
  );
  const list = scenarioNamed('list');
  const listTemplate = context.templates.get('list')!;
  await context.apiLoad(smallApi, list, smallTenants, 4, 5);
  const points = [];
  for (const connections of [1, 16]) {
    const largePoint = await measure(api.pid, () => context.apiLoad(api, list, tenants, connections));
    log(describe(`  c=${connections} large`, largePoint));
    const smallPoint = await measure(smallApi.pid, () =>
      context.apiLoad(smallApi, list, smallTenants, connections),
    );
    log(describe(`  c=${connections} small`, smallPoint));
    points.push({ connections, large: largePoint, small: smallPoint });
  }
  const largeCeiling = await measure(undefined, () =>
    context.ceilingLoad(database.authenticatorUrl, listTemplate, tenants, 16),
  );
  log(describe('  c=16 pg large', largeCeiling));
  const smallCeiling = await measure(undefined, () =>
    context.ceilingLoad(small.authenticatorUrl, listTemplate, smallTenants, 16),
  );
  log(describe('  c=16 pg small', smallCeiling));
  await context.stopApi(smallApi);
  context.results.scale = {
    small: { ...smallShape, products: smallProducts, database: SMALL_BENCH_DATABASE },
    points,
    ceiling: [{ connections: 16, large: largeCeiling, small: smallCeiling }],
  };
}

export const scale: Section = {
  name: 'scale',
  api: 'shared',
  prepare: () => ({ points: () => 6, run: runScale }),
};
