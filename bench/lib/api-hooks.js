// Loaded with --import into the benchmark's API process (lib/api.ts), which is `npm start`'s
// own entry point: what the harness asks of it beside HTTP, over the IPC channel it was
// started with. Plain JavaScript, like bin/: a .ts file would make Node load its
// TypeScript stripper, about 17 MB that the measured process would then carry.
//
//   parent → child  'captured'                 reply with the SQL seen so far (BENCH_CAPTURE=1)
//   child → parent  { type: 'captured', statements }
//   parent → child  'profile-start'            start the V8 CPU profiler
//   parent → child  { profileStop: file }      stop it and write the profile to file
//   child → parent  { type: 'profiled' }
//   parent → child  'memory'                   reply with process.memoryUsage(), before and after a full GC
//   child → parent  { type: 'memory', usage, afterGc }
//
// BENCH_COUNT_SPANS=1 traces every request to an exporter that counts the spans and keeps
// nothing (the A/B preset tracing-on): the API pays for creating, redacting and batching
// them, and a long phase does not grow the heap.
//
// With API_PROCESSES > 1 the primary (the harness's child) answers nothing: memory and
// profiles are for a single process; the spans are counted in every API process.
import cluster from 'node:cluster';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const reply = (message) => process.send?.(message);
const clustered = Number(process.env.API_PROCESSES ?? 1) > 1;
// Not in worker threads (graphile-migrate runs in one at start-up): --import loads this there too.
const serving = isMainThread && !(clustered && cluster.isPrimary);

// Before http, express and pg load, as main.ts starts tracing.
if (process.env.BENCH_COUNT_SPANS === '1' && serving) {
  // The tracing module beside the entry point: src/ (.ts) or dist/src/ (.js).
  const entry = process.argv[1];
  const tracing = path.join(path.dirname(entry), `observability/tracing${path.extname(entry)}`);
  const { startTracing } = await import(pathToFileURL(tracing).href);
  const counter = {
    spans: 0,
    export(spans, done) {
      this.spans += spans.length;
      done({ code: 0 });
    },
    async shutdown() {},
  };
  await startTracing({ exporters: [counter] });
}

let takeCaptured = () => [];
if (process.env.BENCH_CAPTURE === '1' && serving) {
  const { default: pg } = await import('pg');
  const statements = [];
  const prototype = pg.Client.prototype;
  const original = prototype.query;
  prototype.query = function (config, values, callback) {
    if (typeof config === 'string') {
      statements.push({ text: config, values: Array.isArray(values) ? values : undefined, name: undefined });
    } else if (config && typeof config === 'object' && 'text' in config) {
      statements.push({ text: config.text, values: config.values, name: config.name });
    }
    return original.call(this, config, values, callback);
  };
  takeCaptured = () => statements.splice(0);
}

if (process.send && isMainThread && cluster.isPrimary) {
  // The harness is gone: stop as a deployment's orchestrator would stop it.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

if (process.send && serving) {
  // Switched on only around a measurement, so start-up (the schema build) is not in the profile.
  const profiler = new Session();
  profiler.connect();
  process.on('message', (message) => {
    if (message === 'captured') reply({ type: 'captured', statements: takeCaptured() });
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
}
