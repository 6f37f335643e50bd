// graphile.config.ts is a preset graphile's tooling can load, and its `tenantgraph`
// scope is the environment's configuration, as the server reads it.
import { resolvePreset } from 'graphile-config';
import { loadConfig } from 'graphile-config/load';
import { projectRoot } from '../src/project-root.ts';
import { afterEach, expect, test, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

test('graphile.config.ts resolves to the API preset, with the environment in its tenantgraph scope', async () => {
  vi.stubEnv('MAX_RESPONSE_BYTES', '123456');
  vi.stubEnv('MAX_GROUPS', '77');
  vi.stubEnv('TENANT_CONCURRENCY', '3');
  vi.stubEnv('PORT', '6543');
  vi.stubEnv('GRAPHIQL', 'false');
  const { default: preset } = await import('../graphile.config.ts');
  const resolved = resolvePreset(preset);

  const names = resolved.plugins!.map((plugin) => plugin.name);
  expect(names).toEqual(
    expect.arrayContaining(['LimitsPlugin', 'PageSizePlugin', 'PgAggregatesAddConnectionAggregatesPlugin']),
  );
  expect(resolved.tenantgraph?.limits?.maxResponseBytes).toBe(123_456);
  expect(resolved.tenantgraph?.concurrency?.perKey).toBe(3);
  expect(resolved.schema?.tenantgraphPages?.maxGroups).toBe(77);
  expect(resolved.grafserv).toMatchObject({ port: 6543, graphiql: false, graphqlPath: '/graphql' });
  // Only a running server has a pool and the services built on it.
  expect(resolved.tenantgraph?.services).toBeUndefined();
  expect(resolved.pgServices ?? []).toEqual([]);
});

test('a preset extending it overrides one option and keeps the rest of the scope', async () => {
  const { default: preset } = await import('../graphile.config.ts');
  const base = resolvePreset(preset);
  const resolved = resolvePreset({ extends: [preset], tenantgraph: { throttleDelayMs: 0 } });
  expect(resolved.tenantgraph?.throttleDelayMs).toBe(0);
  expect(resolved.tenantgraph?.limits).toEqual(base.tenantgraph?.limits);
  expect(resolved.tenantgraph?.roles).toEqual(base.tenantgraph?.roles);
});

test("graphile-config's own loader finds it at the root, as graphile's tooling does", async () => {
  const preset = await loadConfig(`${projectRoot}graphile.config.ts`);
  expect(preset).not.toBeNull();
  const resolved = resolvePreset(preset!);
  expect(resolved.tenantgraph?.limits?.maxQueryCost).toBeGreaterThan(0);
  expect(resolved.plugins!.map((plugin) => plugin.name)).toContain('LimitsPlugin');
});
