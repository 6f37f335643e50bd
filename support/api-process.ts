// The one way the tests and the benchmark start the API as a process of its own: `npm
// start`'s entry point (src/main.ts, or dist/src/main.js as `npm run build` wrote it) with
// `npm start`'s node flags, resolved once it answers /readyz or prints a line. (The
// cluster primary, src/cluster.ts, forks the entry it was itself started with.) It
// imports nothing from src/, test/ or bench/, so that both may use it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The entry of `npm start` in a checkout: its TypeScript sources, or what `npm run build` compiled. */
export function apiEntry({ root = projectRoot, compiled = false } = {}): string {
  return path.join(root, compiled ? 'dist/src/main.js' : 'src/main.ts');
}

/**
 * The node flags of a checkout's `npm start` (its package.json): production's memory
 * settings, which the Docker image runs with too and the benchmark measures with.
 */
export function productionNodeFlags(root = projectRoot): string[] {
  const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return packageJson.scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

export interface SpawnApiOptions {
  /** The script node runs: apiEntry() unless another (`npm run worker`'s). */
  entry?: string;
  /** The whole environment of the process (nothing is inherited but what is given). */
  env: NodeJS.ProcessEnv;
  nodeFlags?: string[];
  cwd?: string;
  /** Ready when GET `${url}/readyz` answers 2xx (url: http://127.0.0.1:PORT), or when the output holds `line`. */
  ready: { url: string } | { line: string };
  /**
   * Kept in output() (the default), or written to a temporary file that only a failed
   * start reads: a load run's request logs would cost the harness CPU.
   */
  output?: 'keep' | 'file';
  /** An IPC channel to the process (child.send), for the benchmark's hooks. */
  ipc?: boolean;
  timeoutMs?: number;
}

export interface SpawnedApi {
  child: ChildProcess;
  /** Everything the process printed so far (empty with output: 'file'). */
  output(): string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  /** Milliseconds from spawn to ready. */
  startMs: number;
}

export async function spawnApi(options: SpawnApiOptions): Promise<SpawnedApi> {
  const keep = (options.output ?? 'keep') === 'keep';
  const logFile = path.join(os.tmpdir(), `tenantgraph-api-${process.pid}-${randomUUID()}.log`);
  const log = keep ? 'pipe' : openSync(logFile, 'w');
  const stdio: StdioOptions = ['ignore', log, log, ...(options.ipc ? ['ipc' as const] : [])];
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.entry ?? apiEntry()], {
    cwd: options.cwd ?? projectRoot,
    env: options.env,
    stdio,
  });
  if (typeof log === 'number') closeSync(log);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      // After a failed start, once read below.
      if (!keep && ready) rmSync(logFile, { force: true });
      resolve(code);
    }),
  );
  const { ready: when } = options;
  let ready = false;
  const isReady = async () =>
    'line' in when
      ? output.includes(when.line)
      : await fetch(`${when.url}/readyz`).then(
          (response) => response.ok,
          () => false,
        );
  const timeoutMs = options.timeoutMs ?? 60_000;
  while (!(await isReady())) {
    if (child.exitCode !== null || child.signalCode !== null || performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      if (!keep) {
        output = readFileSync(logFile, 'utf8');
        rmSync(logFile, { force: true });
      }
      throw new Error(
        `The API process (${path.relative(projectRoot, options.entry ?? apiEntry())}) did not start` +
          `${child.exitCode !== null ? `: it exited with code ${child.exitCode}` : ` within ${timeoutMs / 1000} s`}` +
          `:\n${output.slice(-3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 'line' in when ? 100 : 50));
  }
  ready = true;
  return { child, output: () => output, exited, startMs: performance.now() - started };
}
