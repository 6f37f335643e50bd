// The dependency rules docs/dependencies.md explains, read from package.json and the
// lockfile: a prerelease is pinned exactly; OpenTelemetry is installed once.
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { projectRoot } from '../src/project-root.ts';

const readJson = async (file: string) => JSON.parse(await readFile(`${projectRoot}${file}`, 'utf8'));
const manifest = (await readJson('package.json')) as Record<string, Record<string, string> | undefined>;
const lockfile = (await readJson('package-lock.json')) as { packages: Record<string, { version?: string }> };

test('every prerelease the project depends on is pinned to one exact version', () => {
  const ranges = { ...manifest.dependencies, ...manifest.devDependencies };
  const prereleases = Object.entries(ranges).filter(([, range]) => /\d-[0-9A-Za-z.]+$/.test(range));
  expect(prereleases.map(([name]) => name)).toContain('@graphile/pg-aggregates');
  expect(prereleases.filter(([, range]) => !/^\d/.test(range))).toEqual([]);
});

test('the lockfile holds one version of each OpenTelemetry package', () => {
  const versions = new Map<string, Set<string>>();
  for (const [location, { version }] of Object.entries(lockfile.packages)) {
    const name = /(?:^|\/)node_modules\/(@opentelemetry\/[^/]+)$/.exec(location)?.[1];
    if (name && version) versions.set(name, (versions.get(name) ?? new Set()).add(version));
  }
  expect(versions.size).toBeGreaterThan(10);
  const twice = [...versions]
    .filter(([, seen]) => seen.size > 1)
    .map(([name, seen]) => `${name}: ${[...seen]}`);
  expect(twice).toEqual([]);
});
