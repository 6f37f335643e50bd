// What Row-Level Security costs: the API's list query under RLS as app_user, against
// the same query with `WHERE tenant_id = $1` as the owner (BYPASSRLS), same transaction
// shape; and EXPLAIN ANALYZE of both.
import { explainAnalyze } from '../lib/explain.ts';
import { runSql, type Statement } from '../lib/load.ts';
import { requestValues, type BenchTenant } from '../lib/scenarios.ts';
import { mainStatements, SET_CONFIG_SQL, settingsJson } from '../lib/sql-templates.ts';
import { pick, type Section, type SectionContext } from './section.ts';

async function runRls(context: SectionContext): Promise<void> {
  const { database, tenants, seconds, log, describe, measure } = context;
  log(
    "\nRLS cost: the API's list query under RLS vs the same query with WHERE tenant_id = $1 as the owner (BYPASSRLS)",
  );
  const listTemplate = context.templates.get('list')!;
  const [listStatement] = listTemplate.statements;
  if (listTemplate.statements.length !== 1 || !/\norder by/.test(listStatement!.text)) {
    throw new Error('Unexpected SQL for the list scenario');
  }
  const explicitText = listStatement!.text.replace(
    /\norder by/,
    '\nwhere __products__."tenant_id" = $1::"uuid"\norder by',
  );
  const explicitTransaction = (tenant: BenchTenant): Statement[] => {
    const values = requestValues(tenant);
    return [
      { text: 'begin' },
      // The same settings minus the role: the owner stays the owner.
      { text: SET_CONFIG_SQL, values: [settingsJson(listTemplate, values, ['role'])] },
      { text: explicitText, values: [tenant.tenantId], name: 'bench_explicit_where' },
      { text: 'commit' },
    ];
  };
  const points = [];
  for (const connections of [1, 16]) {
    const rlsPoint = await measure(undefined, () =>
      context.ceilingLoad(database.authenticatorUrl, listTemplate, tenants, connections),
    );
    log(describe(`  c=${connections} RLS`, rlsPoint));
    const explicitLoad = {
      url: database.ownerUrl,
      connections,
      durationSeconds: seconds,
      setup: ['set jit_optimize_above_cost = -1'],
      next: () => explicitTransaction(pick(tenants)),
    };
    const explicitPoint = await measure(undefined, () => runSql(explicitLoad));
    log(describe(`  c=${connections} WHERE`, explicitPoint));
    points.push({ connections, rls: rlsPoint, explicitWhere: explicitPoint });
  }
  const explainRls = await explainAnalyze(database.authenticatorUrl, 30, () => {
    const values = requestValues(pick(tenants));
    return {
      settings: settingsJson(listTemplate, values),
      statement: mainStatements(listTemplate, values)[0]!,
    };
  });
  const explainExplicit = await explainAnalyze(database.ownerUrl, 30, () => {
    const tenant = pick(tenants);
    return {
      settings: settingsJson(listTemplate, requestValues(tenant), ['role']),
      statement: { text: explicitText, values: [tenant.tenantId] },
    };
  });
  const { checks } = explainRls;
  log(
    `  EXPLAIN ANALYZE median execution: RLS ${explainRls.executionMs.median} ms, ` +
      `WHERE ${explainExplicit.executionMs.median} ms; index scans only: ${checks.indexScansOnly}; ` +
      `helpers once per statement: ${checks.helpersOncePerStatement}`,
  );
  context.results.rls = {
    connections: [1, 16],
    points,
    explainRls,
    explainExplicit,
    sqlRls: listStatement!.text,
    sqlExplicit: explicitText,
  };
}

export const rls: Section = {
  name: 'rls',
  api: 'shared',
  prepare: () => ({ points: () => 4, run: runRls }),
};
