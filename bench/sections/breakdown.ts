// Where the time of one list request goes, on one connection: GET /healthz (HTTP,
// Express and middleware), the verifier on tokens it has not seen, the database
// transaction over raw pg, EXPLAIN ANALYZE; the rest is the GraphQL layer.
import { createTokenVerifier } from '../../src/auth/verify-token.ts';
import { explainAnalyze } from '../lib/explain.ts';
import { runHttp } from '../lib/load.ts';
import { requestValues, scenarioNamed } from '../lib/scenarios.ts';
import { mainStatements, settingsJson } from '../lib/sql-templates.ts';
import { round } from '../lib/stats.ts';
import { pick, type Section, type SectionContext } from './section.ts';

async function runBreakdown(context: SectionContext): Promise<void> {
  const { api, database, tenants, seconds, log, describe, measure } = context;
  log('\nWhere the time of one list request goes (one connection)');
  const list = scenarioNamed('list');
  const listTemplate = context.templates.get('list')!;
  const healthz = { url: api.url, path: '/healthz', method: 'GET' as const, connections: 1 };
  const httpFloor = await measure(api.pid, () =>
    runHttp({ ...healthz, durationSeconds: Math.min(seconds, 3) }),
  );
  log(describe('  /healthz', httpFloor));
  const apiList = await measure(api.pid, () => context.apiLoad(api, list, tenants, 1));
  log(describe('  list API', apiList));
  const ceilingList = await measure(undefined, () =>
    context.ceilingLoad(database.authenticatorUrl, listTemplate, tenants, 1),
  );
  log(describe('  list pg', ceilingList));
  // The same verifier the server uses, on tokens it has not seen.
  const verify = createTokenVerifier({
    key: { kind: 'secret', secret: context.secret },
    clockToleranceSeconds: 5,
  });
  const sample = tenants.slice(0, 5000);
  for (const tenant of sample.slice(0, 500)) await verify(tenant.token);
  const verifyStarted = performance.now();
  for (const tenant of sample) await verify(tenant.token);
  const jwtVerifyMs = (performance.now() - verifyStarted) / sample.length;
  const explain =
    context.results.rls?.explainRls ??
    (await explainAnalyze(database.authenticatorUrl, 30, () => {
      const values = requestValues(pick(tenants));
      return {
        settings: settingsJson(listTemplate, values),
        statement: mainStatements(listTemplate, values)[0]!,
      };
    }));
  const apiP50 = apiList.latencyMs.p50;
  const rest = apiP50 - httpFloor.latencyMs.p50 - jwtVerifyMs - ceilingList.latencyMs.p50;
  const sqlMs = explain.executionMs.median + explain.planningMs.median;
  context.results.breakdown = {
    apiListP50: apiP50,
    apiListMean: apiList.latencyMs.mean,
    httpFloorP50: httpFloor.latencyMs.p50,
    jwtVerifyMs: round(jwtVerifyMs, 3),
    ceilingListP50: ceilingList.latencyMs.p50,
    ceilingListMean: ceilingList.latencyMs.mean,
    sqlExecutionMs: explain.executionMs.median,
    sqlPlanningMs: explain.planningMs.median,
    apiCpuMsPerRequest: apiList.apiCpuMsPerRequest ?? null,
    rows: [
      {
        part: 'HTTP, Express, helmet, CORS, request log (GET /healthz round trip)',
        ms: httpFloor.latencyMs.p50,
        how: 'p50 of GET /healthz, one connection',
      },
      {
        part: 'JWT verification',
        ms: round(jwtVerifyMs, 3),
        how: 'createTokenVerifier on 5,000 distinct tokens, in the harness',
      },
      {
        part: 'database transaction: begin, set_config, SELECT, commit (4 round trips)',
        ms: round(ceilingList.latencyMs.p50 - sqlMs, 3),
        how: 'p50 of the same transaction over raw pg, minus the SQL below',
      },
      {
        part: 'of which SQL planning + execution in PostgreSQL (RLS included)',
        ms: round(sqlMs, 3),
        how: 'median EXPLAIN ANALYZE planning + execution time',
      },
      {
        part: 'GraphQL: parse, validate, request limits, rate limit, context, plan, SQL building, result decoding, JSON',
        ms: round(rest, 3),
        how: 'API p50 minus all of the above',
      },
    ],
  };
}

export const breakdown: Section = {
  name: 'breakdown',
  api: 'shared',
  prepare: () => ({ points: () => 3, run: runBreakdown }),
};
