// A newcomer's first `npm install`, on a machine whose own Node is older than the one the
// project runs on (the `node` devDependency brings Node 24 to the npm scripts, but npm
// itself runs on the system's Node and checks every package's engines against it): the
// first screen is npm's summary, not ~550 lines of EBADENGINE warnings; and an older Node
// that runs the server directly is told so in one line.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
// The system's own Node and npm, as a newcomer's shell finds them (not node_modules/.bin).
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
const systemNode = ['/usr/local/bin/node', '/usr/bin/node'].find((file) => existsSync(file));
const systemMajor = systemNode
  ? Number(execFileSync(systemNode, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }))
  : undefined;
const olderNode = systemMajor !== undefined && systemMajor < 24;
if (!olderNode)
  process.stderr.write(
    '\nskipping the first-install tests: they need a system Node older than 24 (here: ' +
      `${systemMajor ?? 'none'})\n`,
  );

describe.skipIf(!olderNode)(`with the system's Node ${systemMajor}`, () => {
  test('npm install shows no engine warnings, only what matters', { timeout: 180_000 }, () => {
    // --dry-run: the same engine check over the whole tree (it runs while building the
    // ideal tree), without touching the node_modules the other tests use.
    const result = spawnSync('npm', ['install', '--dry-run', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: projectRoot,
      env: { PATH: SYSTEM_PATH, HOME: process.env.HOME },
      encoding: 'utf8',
    });
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status, output).toBe(0);
    expect(output).not.toContain('EBADENGINE');
    expect(output).not.toContain('npm warn');
    expect(output.split('\n').filter(Boolean).length, output).toBeLessThan(10);
  });

  test('an error still shows', { timeout: 60_000 }, () => {
    const result = spawnSync('npm', ['install', '--dry-run', '--offline', './no-such-folder'], {
      cwd: projectRoot,
      env: { PATH: SYSTEM_PATH, HOME: process.env.HOME },
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/npm error .*no-such-folder/);
  });

  test('the server started on the older Node directly says what to do, in one line', () => {
    const result = spawnSync(systemNode!, ['bin/start.js'], { cwd: projectRoot, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^tenantgraph needs Node 24 or later; this is v\d+.*npm start/),
    ]);
  });
});
