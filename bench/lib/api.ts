// The API as the benchmark runs it: `npm start`'s own entry point in a process of its own
// (support/api-process.ts starts it), so its CPU and memory are measured apart from the
// load generator; in production mode, compiled as production runs it (buildThisCheckout),
// with npm start's node flags, over the bench database given the way a deployment gives
// it (DATABASE_URL as the owner, AUTH_DATABASE_URL as the authenticator), no job worker.
// With `processes` > 1 that is npm start's own cluster (API_PROCESSES, src/cluster.ts).
// lib/api-hooks.js, loaded with --import, answers what the harness asks beside HTTP
// (captured SQL, memory, CPU profiles) over the IPC channel. Request logs (LOG_LEVEL=info,
// one line per request as in production) are written and discarded.
import { spawnSync, type Serializable } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { apiEntry, projectRoot, spawnApi, productionNodeFlags } from '../../support/api-process.ts';
import { freePort } from '../../support/free-port.ts';

export interface ApiProcessOptions {
  ownerUrl: string;
  authenticatorUrl: string;
  /** HS256 secret the harness signs its tokens with. */
  secret: string;
  poolSize: number;
  processes: number;
  /** Record every SQL statement sent to PostgreSQL (for the database ceiling). */
  capture: boolean;
  /** Extra environment for the API, e.g. BUDGET_POINTS or LOG_LEVEL (METRICS_PORT: metrics on; BENCH_COUNT_SPANS=1: tracing). */
  env: Record<string, string>;
}

export interface CapturedStatement {
  text: string;
  values: unknown[] | undefined;
  name: string | undefined;
}

type HookMessage =
  | { type: 'captured'; statements: CapturedStatement[] }
  | { type: 'profiled' }
  | { type: 'memory'; usage: NodeJS.MemoryUsage; afterGc: NodeJS.MemoryUsage | undefined };

export interface ApiProcess {
  url: string;
  pid: number;
  /** Milliseconds from spawn to ready (/readyz). */
  startMs: number;
  captured(): Promise<CapturedStatement[]>;
  /** process.memoryUsage() of the API process, as found and after a full GC (single process only). */
  memory(): Promise<{ usage: NodeJS.MemoryUsage; afterGc: NodeJS.MemoryUsage | undefined }>;
  startProfile(): void;
  /** Stops the profiler and writes the .cpuprofile to `file` (single process only). */
  stopProfile(file: string): Promise<void>;
  stop(): Promise<void>;
}

/** The checkout whose API runs: this one, or another commit's (an A/B baseline, lib/baseline.ts). */
export interface ApiProcessSource {
  root: string;
  /** Its `npm run build` output; false for a commit from before there was one (run from its sources). */
  compiled: boolean;
}

const hooks = pathToFileURL(path.join(import.meta.dirname, 'api-hooks.js')).href;
const READY_TIMEOUT_MS = 120_000;

/** `npm run build` in a checkout; false when it fails (its output is returned to say why). */
export function build(root: string): { ok: boolean; output: string } {
  const built = spawnSync(process.execPath, [path.join(root, 'bin/build.js')], {
    cwd: root,
    encoding: 'utf8',
  });
  return { ok: built.status === 0, output: `${built.stdout}${built.stderr}` };
}

/** This checkout compiled, once per run: what production runs, and what the benchmark measures. */
export function buildThisCheckout(): ApiProcessSource {
  const { ok, output } = build(projectRoot);
  if (!ok)
    throw new Error(
      `npm run build failed: the benchmark measures the compiled API, as production runs it\n${output}`,
    );
  return { root: projectRoot, compiled: true };
}

/** `nodeOptions`: flags for the API's node, after npm start's (so they override them), e.g. --max-old-space-size=128. */
export async function startApiProcess(
  options: ApiProcessOptions,
  source: ApiProcessSource,
  nodeOptions: string[] = [],
): Promise<ApiProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The scenarios send their own operations, not the web app's trusted documents.
    TRUSTED_DOCUMENTS: 'off',
    // BENCH_COUNT_SPANS=1 traces to an exporter that counts the spans (lib/api-hooks.js).
    BENCH_COUNT_SPANS: '0',
    ...options.env,
    NODE_ENV: 'production',
    DATABASE_URL: options.ownerUrl,
    AUTH_DATABASE_URL: options.authenticatorUrl,
    PG_POOL_MAX: String(options.poolSize),
    API_PROCESSES: String(options.processes),
    WORKER: 'off',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: options.secret,
    BENCH_CAPTURE: options.capture ? '1' : '0',
  };
  for (const name of ['GRAPHILE_ENV', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE'])
    delete env[name];
  const { child, exited, startMs } = await spawnApi({
    entry: apiEntry(source),
    cwd: source.root,
    env,
    // --expose-gc changes nothing by itself; it lets the memory report tell live data from garbage.
    nodeFlags: ['--expose-gc', ...productionNodeFlags(source.root), ...nodeOptions, `--import=${hooks}`],
    ready: { url },
    output: 'file',
    ipc: true,
    timeoutMs: READY_TIMEOUT_MS,
  });
  const single = options.processes === 1;
  const ask = <T extends HookMessage['type']>(type: T, message: Serializable) => {
    if (!single) return Promise.reject(new Error('not available with more than one API process'));
    return new Promise<Extract<HookMessage, { type: T }>>((resolve) => {
      const onMessage = (reply: HookMessage) => {
        if (reply.type !== type) return;
        child.off('message', onMessage);
        resolve(reply as Extract<HookMessage, { type: T }>);
      };
      child.on('message', onMessage);
      child.send(message);
    });
  };
  return {
    url,
    pid: child.pid!,
    startMs,
    async captured() {
      return (await ask('captured', 'captured')).statements;
    },
    async memory() {
      const { usage, afterGc } = await ask('memory', 'memory');
      return { usage, afterGc };
    },
    startProfile() {
      if (single) child.send('profile-start');
    },
    async stopProfile(file) {
      await ask('profiled', { profileStop: file });
    },
    async stop() {
      // As a deployment stops it: npm start drains its requests and exits (writing --cpu-prof).
      if (child.exitCode === null) child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
