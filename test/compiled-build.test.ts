// Production runs the compiled build (bin/start.js runs dist/ when NODE_ENV=production):
// the compiled code must find the project where the sources do. A package.json copied
// into the build once made projectRoot point into dist/, and every production start
// failed looking for dist/.gmrc; the tests, which run the sources, did not notice.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { projectRoot } from '../src/project-root.ts';

test(
  'the compiled build finds the project root and the version the sources find',
  { timeout: 120_000 },
  async () => {
    // Inside the project (as dist/ is), in .data/, which holds no package.json.
    await mkdir(path.join(projectRoot, '.data'), { recursive: true });
    const outDir = await mkdtemp(path.join(projectRoot, '.data', 'compiled-build-'));
    try {
      const tsc = createRequire(path.join(projectRoot, 'package.json')).resolve('typescript/bin/tsc');
      const { status, stdout } = spawnSync(
        process.execPath,
        [
          tsc,
          '-p',
          'tsconfig.build.json',
          '--outDir',
          outDir,
          '--tsBuildInfoFile',
          path.join(outDir, '.tsbuildinfo'),
        ],
        { cwd: projectRoot, encoding: 'utf8' },
      );
      expect(status, stdout).toBe(0);
      expect(await readdir(outDir)).not.toContain('package.json');

      const compiled = (file: string) => pathToFileURL(path.join(outDir, file)).href;
      const { projectRoot: compiledRoot } = (await import(compiled('src/project-root.js'))) as {
        projectRoot: string;
      };
      const { version } = (await import(compiled('src/version.js'))) as { version: string };
      expect(compiledRoot).toBe(projectRoot);
      const packageJson = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(version).toBe(packageJson.version);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  },
);
