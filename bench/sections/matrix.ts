// Every scenario at every concurrency: the API, its transaction over raw pg (the
// ceiling) and, when installed, the same transaction from pgbench.
import { runPgbench } from '../lib/load.ts';
import type { ScenarioResult } from '../lib/results.ts';
import type { Measured } from '../lib/measured.ts';
import { pgbenchScript } from '../lib/sql-templates.ts';
import type { Section, SectionContext } from './section.ts';

async function runMatrix(context: SectionContext): Promise<void> {
  const { api, database, tenants, seconds, log, describe, measure } = context;
  const scenarioResults: ScenarioResult[] = [];
  for (const scenario of context.run.scenarios) {
    const template = context.templates.get(scenario.name)!;
    let script: string | undefined;
    try {
      script = context.run.pgbench
        ? pgbenchScript(template, { name: 'bench pgbench', word: 'red' })
        : undefined;
    } catch (error) {
      context.notes.push(`pgbench cannot replay ${scenario.name}: ${(error as Error).message}`);
    }
    const result: ScenarioResult = {
      name: scenario.name,
      title: scenario.title,
      query: scenario.query,
      apiTransactions: template.transactions,
      sql: template.statements.map((statement) => statement.text),
      ...(script && { pgbenchScript: script }),
      points: [],
    };
    log(`\n${scenario.name}: ${scenario.title}`);
    // Warm-up: JIT, prepared statements, caches. Not recorded.
    await context.apiLoad(api, scenario, tenants, 4, 1);
    await context.ceilingLoad(database.authenticatorUrl, template, tenants, 4, 1);
    for (const connections of context.run.concurrency) {
      const apiPoint = await measure(api.pid, () => context.apiLoad(api, scenario, tenants, connections));
      log(describe(`  c=${connections} API`, apiPoint));
      const ceiling = await measure(undefined, () =>
        context.ceilingLoad(database.authenticatorUrl, template, tenants, connections),
      );
      log(describe(`  c=${connections} pg`, ceiling));
      let pgbenchPoint: Measured | undefined;
      if (script) {
        const options = {
          url: database.authenticatorUrl,
          connections,
          durationSeconds: seconds,
          script,
          variables: { tenants: tenants.length },
        };
        pgbenchPoint = await measure(undefined, () => runPgbench(options), false);
        log(describe(`  c=${connections} pgbench`, pgbenchPoint));
      }
      result.points.push({
        connections,
        api: apiPoint,
        ceiling,
        ...(pgbenchPoint && { pgbench: pgbenchPoint }),
      });
    }
    scenarioResults.push(result);
  }
  context.results.scenarios = scenarioResults;
}

export const matrix: Section = {
  name: 'matrix',
  api: 'shared',
  prepare: () => ({
    points: (run) => run.scenarios.length * run.concurrency.length * (run.pgbench ? 3 : 2),
    run: runMatrix,
  }),
};
