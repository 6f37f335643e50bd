// A V8 CPU profile of the API process under the list scenario at 16 connections, its
// self time summed by package (bench/lib/profile.ts). One API process only.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from '../lib/profile.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import type { Section, SectionContext } from './section.ts';

async function runProfile(context: SectionContext): Promise<void> {
  const { api, log } = context;
  if (!context.single) return;
  log('\nCPU profile of the API process: list at 16 connections');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-profile-'));
  try {
    const file = path.join(dir, 'api.cpuprofile');
    api.startProfile();
    const profiled = await context.measure(api.pid, () =>
      context.apiLoad(api, scenarioNamed('list'), context.tenants, 16),
    );
    await api.stopProfile(file);
    log(context.describe('  c=16 API', profiled));
    const profile = { ...(await summarizeProfile(file)), connections: 16, throughput: profiled.throughput };
    for (const layer of profile.layers.filter((l) => l.percentOfBusy > 0).slice(0, 8)) {
      log(`  ${String(layer.percentOfBusy).padStart(5)}%  ${layer.layer}`);
    }
    context.results.profile = profile;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const profile: Section = {
  name: 'profile',
  api: 'shared',
  prepare: () => ({ points: () => 1, run: runProfile }),
};
