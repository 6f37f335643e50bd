// The SQL the API sends for one request of each scenario, captured by an API process
// that records every statement, with the request's own ids turned into placeholders:
// the database ceiling replays it for any tenant.
import { startApiProcess, type ApiProcessOptions, type ApiProcessSource } from './api.ts';
import { requestValues, SCENARIOS, type BenchTenant } from './scenarios.ts';
import { templateFrom, type SqlTemplate } from './sql-templates.ts';
import { graphql, nodeIdEncoder, readTenants, signToken } from './tenants.ts';

const PROBE = `query Probe($id: UUID!) {
  products(first: 1, condition: { rowId: $id }) { nodes { id rowId } }
}`;

export async function captureTemplates(
  options: Pick<ApiProcessOptions, 'ownerUrl' | 'authenticatorUrl' | 'secret' | 'env'>,
  source: ApiProcessSource,
): Promise<{ templates: Map<string, SqlTemplate>; encode: (tenantId: string, rowId: string) => string }> {
  // One connection for the request's statements, so they are recorded in the order one
  // transaction runs them (the configuration wants a pool of at least twice that).
  const api = await startApiProcess(
    {
      ...options,
      env: { ...options.env, TENANT_CONNECTIONS: '1', TENANT_CONCURRENCY: '1' },
      poolSize: 2,
      processes: 1,
      capture: true,
    },
    source,
  );
  try {
    const [first] = await readTenants(options.ownerUrl);
    if (!first) throw new Error('The bench database has no tenants');
    const token = signToken(options.secret, first, 600);
    const probe = await graphql(api.url, token, PROBE, { id: first.productId });
    const example = probe.body?.data?.products?.nodes?.[0];
    if (!example) throw new Error(`Cannot read a product through the API: ${JSON.stringify(probe.body)}`);
    const encode = nodeIdEncoder({ id: example.id, tenantId: first.tenantId, rowId: first.productId });
    const tenant: BenchTenant = { ...first, token, productNodeId: encode(first.tenantId, first.productId) };
    await api.captured();
    const templates = new Map<string, SqlTemplate>();
    for (const scenario of SCENARIOS) {
      const values = requestValues(tenant);
      const response = await graphql(api.url, token, scenario.query, scenario.variables(tenant, values));
      let problem: string | undefined;
      if (response.status !== 200) problem = `HTTP ${response.status}`;
      else if (response.body.errors) problem = JSON.stringify(response.body.errors);
      else problem = scenario.check(response.body.data);
      if (problem) throw new Error(`Scenario ${scenario.name} fails through the API: ${problem}`);
      templates.set(scenario.name, templateFrom(await api.captured(), values));
    }
    return { templates, encode };
  } finally {
    await api.stop();
  }
}
