// A baseline for the A/B section: another commit of this repository, checked out in a
// temporary git worktree that shares this checkout's node_modules, compiled with its own
// `npm run build` (or, from before there was one, run from its sources as its `npm start`
// did), its `npm start` entry point started with its own `npm start` flags (lib/api.ts).
// The baseline must run against the schema of the data set the run uses.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../support/api-process.ts';
import { build, type ApiProcessSource } from './api.ts';

export interface Baseline extends ApiProcessSource {
  /** As given: a branch, a tag, HEAD~3, a sha. */
  ref: string;
  commit: string;
  remove(): Promise<void>;
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();

export async function checkOutBaseline(ref: string): Promise<Baseline> {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const parent = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-baseline-'));
  const root = path.join(parent, 'tenantgraph');
  git('worktree', 'add', '--detach', root, commit);
  const remove = async () => {
    spawnSync('git', ['worktree', 'remove', '--force', root], { cwd: projectRoot });
    await rm(parent, { recursive: true, force: true });
  };
  try {
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    // Before `npm run build` existed, production ran the TypeScript sources: so does the baseline.
    if (!existsSync(path.join(root, 'bin/build.js'))) return { ref, commit, root, compiled: false, remove };
    const { ok, output } = build(root);
    if (!ok || !existsSync(path.join(root, 'dist/src/main.js'))) {
      throw new Error(`Could not build ${ref} (${commit.slice(0, 7)}):\n${output}`);
    }
    return { ref, commit, root, compiled: true, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
