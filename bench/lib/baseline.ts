// A baseline for the A/B section: another commit of this repository, checked out in a
// temporary git worktree that shares this checkout's node_modules, compiled with its own
// `npm run build` (or, from before there was one, run from its sources as its `npm start`
// did), its API process started with its own `npm start` flags. The baseline
// must have bench/api-process.ts (every commit since the benchmark's IPC protocol did) and
// run against the schema of the data set the run uses.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/database/migrations.ts';

export interface Baseline {
  /** As given: a branch, a tag, HEAD~3, a sha. */
  ref: string;
  commit: string;
  /** The baseline's API process: compiled, or its TypeScript source before it had a build. */
  script: string;
  compiled: boolean;
  /** The node flags of the baseline's `npm start`. */
  nodeFlags: string[];
  remove(): Promise<void>;
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();

/** The node flags of a checkout's `npm start` (its package.json). */
export function startFlags(root: string): string[] {
  const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return packageJson.scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

export async function checkOutBaseline(ref: string): Promise<Baseline> {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const parent = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-baseline-'));
  const dir = path.join(parent, 'tenantgraph');
  git('worktree', 'add', '--detach', dir, commit);
  const remove = async () => {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: projectRoot });
    await rm(parent, { recursive: true, force: true });
  };
  try {
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    // Before `npm run build` existed, production ran the TypeScript sources: so does the baseline.
    if (!existsSync(path.join(dir, 'bin/build.js'))) {
      const source = path.join(dir, 'bench/api-process.ts');
      if (!existsSync(source)) throw new Error(`${ref} (${commit.slice(0, 7)}) has no bench/api-process.ts`);
      return { ref, commit, script: source, compiled: false, nodeFlags: startFlags(dir), remove };
    }
    const built = spawnSync(process.execPath, [path.join(dir, 'bin/build.js')], {
      cwd: dir,
      encoding: 'utf8',
    });
    const script = path.join(dir, 'dist/bench/api-process.js');
    if (built.status !== 0 || !existsSync(script)) {
      throw new Error(`Could not build ${ref} (${commit.slice(0, 7)}):\n${built.stdout}${built.stderr}`);
    }
    return { ref, commit, script, compiled: true, nodeFlags: startFlags(dir), remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
