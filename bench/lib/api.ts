// Starts bench/api-process.ts as a child process and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../../src/database/migrations.ts';
import type { ApiProcessMessage, ApiProcessOptions, CapturedStatement } from '../api-process.ts';
import { startFlags } from './baseline.ts';

const sourceScript = fileURLToPath(new URL('../api-process.ts', import.meta.url));
const compiledScript = fileURLToPath(new URL('../../dist/bench/api-process.js', import.meta.url));

/**
 * The node flags of `npm start` (package.json), which the API processes of the benchmark
 * run with, so its memory figures are those of production's defaults.
 */
export function productionNodeFlags(): string[] {
  return startFlags(projectRoot);
}

/**
 * The compiled API process when dist/ is fresh (`npm run build`; production runs compiled
 * code), else the TypeScript source, with a note for the report.
 */
export async function apiProcessScript(): Promise<{ script: string; compiled: boolean }> {
  const { distIsFresh } = (await import(
    pathToFileURL(path.join(projectRoot, 'bin/source-hash.js')).href
  )) as { distIsFresh(): boolean };
  return distIsFresh()
    ? { script: compiledScript, compiled: true }
    : { script: sourceScript, compiled: false };
}

export interface ApiProcess {
  url: string;
  pid: number;
  /** Milliseconds from spawn to listening. */
  startMs: number;
  captured(): Promise<CapturedStatement[]>;
  /** process.memoryUsage() of the API process, as found and after a full GC (single process only). */
  memory(): Promise<{ usage: NodeJS.MemoryUsage; afterGc: NodeJS.MemoryUsage | undefined }>;
  startProfile(): void;
  /** Stops the profiler and writes the .cpuprofile to `file`. */
  stopProfile(file: string): Promise<void>;
  stop(): Promise<void>;
}

/** Another checkout's API process (an A/B baseline, lib/baseline.ts) instead of this one's. */
export interface ApiProcessSource {
  script: string;
  nodeFlags: string[];
}

/** `nodeOptions`: flags for the API's node, e.g. --max-old-space-size=128. */
export async function startApiProcess(
  options: ApiProcessOptions,
  nodeOptions: string[] = [],
  source?: ApiProcessSource,
): Promise<ApiProcess> {
  const script = source?.script ?? (await apiProcessScript()).script;
  const nodeFlags = source?.nodeFlags ?? productionNodeFlags();
  const started = performance.now();
  const child: ChildProcess = fork(script, [], {
    env: { ...process.env, BENCH_API_OPTIONS: JSON.stringify(options) },
    // --expose-gc changes nothing by itself; it lets the memory report tell live data from garbage.
    // The bench's own flags come after npm start's, so they override them.
    execArgv: ['--expose-gc', ...nodeFlags, ...nodeOptions],
    // Request logs (LOG_LEVEL=info, one line per request as in production) are written and discarded.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onMessage = (message: ApiProcessMessage) => {
      if (message.type === 'ready') resolve(message.url);
      if (message.type === 'failed')
        reject(new Error(`The API process failed to start:\n${message.message}`));
    };
    child.on('message', onMessage);
    child.once('exit', (code) =>
      reject(new Error(`The API process exited with code ${code} before it was ready`)),
    );
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextMessage = <T extends ApiProcessMessage['type']>(type: T) =>
    new Promise<Extract<ApiProcessMessage, { type: T }>>((resolve) => {
      const onMessage = (message: ApiProcessMessage) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message as Extract<ApiProcessMessage, { type: T }>);
      };
      child.on('message', onMessage);
    });
  return {
    url,
    pid: child.pid!,
    startMs: performance.now() - started,
    async captured() {
      const reply = nextMessage('captured');
      child.send('captured');
      return (await reply).statements;
    },
    async memory() {
      const reply = nextMessage('memory');
      child.send('memory');
      const { usage, afterGc } = await reply;
      return { usage, afterGc };
    },
    startProfile() {
      child.send('profile-start');
    },
    async stopProfile(file) {
      const reply = nextMessage('profiled');
      child.send({ profileStop: file });
      await reply;
    },
    async stop() {
      if (child.exitCode === null && child.connected) child.send('stop');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
