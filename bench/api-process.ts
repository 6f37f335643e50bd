// The API server as the benchmark runs it: a process of its own (so its CPU and memory
// can be measured apart from the load generator), in production mode, with the
// production defaults of presetFromEnv. Forked by the harness, which passes
// the options in BENCH_API_OPTIONS and talks to it over IPC:
//
//   child → parent  { type: 'ready', url }           listening
//   parent → child  'stop'                           close and exit (writes --cpu-prof)
//   parent → child  'captured'                       (capture mode) reply with the SQL seen so far
//   child → parent  { type: 'captured', statements }
//   parent → child  'profile-start'                  start the V8 CPU profiler
//   parent → child  { profileStop: file }            stop it and write the profile to file
//   child → parent  { type: 'profiled' }
//   parent → child  'memory'                         reply with process.memoryUsage(), before and after a full GC
//
// With `processes` > 1 it runs that many API processes sharing one port (node:cluster),
// the "one API process per core" layout.
import cluster from 'node:cluster';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { Logger } from '../src/logger.ts';

export interface ApiProcessOptions {
  authenticatorUrl: string;
  /** HS256 secret the harness signs its tokens with. */
  secret: string;
  poolSize: number;
  processes: number;
  /** Record every SQL statement sent to PostgreSQL (for the database ceiling). */
  capture: boolean;
  /** Extra environment for presetFromEnv, e.g. BUDGET_POINTS or LOG_LEVEL (METRICS_PORT: metrics on). */
  env: Record<string, string>;
  /** Trace to an in-memory exporter (the observability section). */
  tracing?: boolean;
}

export interface CapturedStatement {
  text: string;
  values: unknown[] | undefined;
  name: string | undefined;
}

export type ApiProcessMessage =
  | { type: 'ready'; url: string }
  | { type: 'captured'; statements: CapturedStatement[] }
  | { type: 'profiled' }
  | { type: 'memory'; usage: NodeJS.MemoryUsage; afterGc: NodeJS.MemoryUsage | undefined }
  | { type: 'failed'; message: string };

// Grafast reads GRAPHILE_ENV when first imported: explain and dev checks off, as in production.
process.env.GRAPHILE_ENV = 'production';
process.env.NODE_ENV = 'production';

const options = JSON.parse(process.env.BENCH_API_OPTIONS ?? '{}') as ApiProcessOptions;

function reply(message: ApiProcessMessage): void {
  process.send?.(message);
}

async function capturing(): Promise<() => CapturedStatement[]> {
  const { default: pg } = await import('pg');
  const statements: CapturedStatement[] = [];
  type Query = (this: unknown, config: unknown, values?: unknown, callback?: unknown) => unknown;
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function (this: unknown, config: unknown, values?: unknown, callback?: unknown) {
    if (typeof config === 'string') {
      statements.push({ text: config, values: Array.isArray(values) ? values : undefined, name: undefined });
    } else if (config && typeof config === 'object' && 'text' in config) {
      const query = config as { text: string; values?: unknown[]; name?: string };
      statements.push({ text: query.text, values: query.values, name: query.name });
    }
    return original.call(this, config, values, callback);
  };
  return () => statements.splice(0);
}

async function serve(): Promise<void> {
  // Before http, express and pg load, as main.ts does.
  if (options.tracing) {
    const [{ startTracing }, { CountingSpanExporter }] = await Promise.all([
      import('../src/observability/tracing.ts'),
      import('./lib/counting-span-exporter.ts'),
    ]);
    await startTracing({ exporters: [new CountingSpanExporter()] });
  }
  const takeCaptured = options.capture ? await capturing() : undefined;
  const [
    { createTokenVerifier },
    { readEnv, presetFromEnv },
    { loggerFor },
    { startApiServer },
    { observabilityFromEnv },
  ] = await Promise.all([
    import('../src/auth/verify-token.ts'),
    import('../src/config.ts'),
    import('../src/logger.ts'),
    import('../src/server.ts'),
    import('../src/observability/from-env.ts'),
  ]);
  const env = readEnv({
    // The scenarios send their own operations, not the web app's trusted documents.
    TRUSTED_DOCUMENTS: 'off',
    ...process.env,
    ...options.env,
    NODE_ENV: 'production',
    JWT_SECRET: options.secret,
    JWT_PUBLIC_KEY: undefined,
    JWT_JWKS_URL: undefined,
    JWT_ISSUER: undefined,
    JWT_AUDIENCE: undefined,
  });
  const logger: Logger = loggerFor(env);
  const api = await startApiServer({
    preset: {
      extends: [presetFromEnv(env)],
      // Cluster workers listening on port 0 all share the one port the primary picks.
      grafserv: { host: '127.0.0.1', port: 0 },
      tenantgraph: { poolSize: options.poolSize },
    },
    authenticatorUrl: options.authenticatorUrl,
    verifyToken: createTokenVerifier({
      key: { kind: 'secret', secret: options.secret },
      clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
    }),
    logger,
    observability: await observabilityFromEnv(env, logger),
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await api.close();
    process.exit(0);
  };
  // Profiling is switched on only around a measurement, so start-up (the schema
  // build) is not in the profile.
  const profiler = new Session();
  profiler.connect();
  process.on('message', (message: unknown) => {
    if (message === 'stop') void stop();
    if (message === 'captured') reply({ type: 'captured', statements: takeCaptured?.() ?? [] });
    if (message === 'memory') {
      // As found, then after a full collection (the harness starts node with --expose-gc):
      // what is live, as opposed to garbage V8 has not needed to collect yet.
      const usage = process.memoryUsage();
      globalThis.gc?.();
      reply({ type: 'memory', usage, afterGc: globalThis.gc ? process.memoryUsage() : undefined });
    }
    if (message === 'profile-start') {
      void (async () => {
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
        await profiler.post('Profiler.start');
      })();
    }
    if (message && typeof message === 'object' && 'profileStop' in message) {
      void (async () => {
        const { profile } = await profiler.post('Profiler.stop');
        await writeFile(String(message.profileStop), JSON.stringify(profile));
        reply({ type: 'profiled' });
      })();
    }
  });
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
  reply({ type: 'ready', url: api.url });
}

async function primary(): Promise<void> {
  const workers = Array.from({ length: options.processes }, () => cluster.fork());
  const urls = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<string>((resolve, reject) => {
          worker.on('message', (message: ApiProcessMessage) => {
            if (message.type === 'ready') resolve(message.url);
            else if (message.type === 'failed') reject(new Error(message.message));
          });
          worker.on('exit', (code) =>
            reject(new Error(`API worker exited with code ${code} before it was ready`)),
          );
        }),
    ),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.send('stop');
          }),
      ),
    );
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message === 'stop') void stop();
  });
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
  reply({ type: 'ready', url: urls[0]! });
}

try {
  if (options.processes > 1 && cluster.isPrimary) await primary();
  else await serve();
} catch (error) {
  reply({ type: 'failed', message: (error as Error).stack ?? String(error) });
  process.exit(1);
}
