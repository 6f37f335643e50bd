// Where the API process spends its CPU: a V8 CPU profile taken under load (the
// inspector's Profiler, switched on around one measurement), its self time summed by
// the layer each function belongs to.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const PROFILER = 'profiler itself';
const WRITES = 'socket and log writes (with preemption after waking the peer)';
const IDLE = 'idle (waiting for I/O)';
const NOT_BUSY = new Set([IDLE, PROFILER]);

// First match wins. Package names are matched inside node_modules paths.
const LAYERS: Array<[string, (url: string, fn: string) => boolean]> = [
  [IDLE, (_url, fn) => fn === '(idle)'],
  // The inspector call that starts and stops the profiler: not the API's work.
  [PROFILER, (url) => url === 'node:inspector' || url === 'node:inspector/promises'],
  ['garbage collection', (_url, fn) => fn === '(garbage collector)'],
  ['JWT verification', (url) => /node_modules\/(jsonwebtoken|jws|jwa|buffer-equal-constant-time|ecdsa-sig-formatter|ms|semver|lodash\.[a-z]+)\//.test(url) || url.includes('/src/auth/')],
  ['GraphQL parse and validate (graphql)', (url) => /node_modules\/graphql\//.test(url)],
  ['limits, costs and budgets', (url) => /node_modules\/@escape\.tech\//.test(url) || url.includes('/src/limits/')],
  ['request logging (pino)', (url) => /node_modules\/(pino|pino-http|pino-std-serializers|sonic-boom|fast-redact|quick-format-unescaped|on-exit-leak-free|thread-stream|atomic-sleep|safe-stable-stringify)\//.test(url) || url.includes('/src/http/request-log')],
  ['grafast planning and execution', (url) => /node_modules\/(grafast|@graphile\/lru|tamedevil)\//.test(url)],
  ['@dataplan/pg (SQL building, row decoding)', (url) => /node_modules\/(@dataplan\/pg|pg-sql2|postgraphile|@graphile\/pg-aggregates|postgraphile-plugin-connection-filter|graphile-build|graphile-build-pg)\//.test(url)],
  ['grafserv (HTTP glue, JSON result)', (url) => /node_modules\/grafserv\//.test(url)],
  ['pg driver (protocol, type parsing)', (url) => /node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-[a-z]+|pg-int8|pgpass|buffer-writer|packet-reader)\//.test(url)],
  ['Express and middleware (helmet, cors)', (url) => /node_modules\/(express|router|body-parser|raw-body|helmet|cors|finalhandler|send|serve-static|qs|content-type|type-is|accepts|negotiator|on-finished|parseurl|path-to-regexp|debug|vary|mime-types|statuses|depd|http-errors|iconv-lite|cookie|encodeurl|escape-html|etag|fresh|media-typer|merge-descriptors|proxy-addr|range-parser|setprototypeof|toidentifier|forwarded|ipaddr\.js)\//.test(url)],
  ['tenantgraph middleware (src/)', (url) => url.includes('/src/')],
  ['Node.js HTTP, net, streams, crypto', (url) => url.startsWith('node:')],
  // Native write calls. The profiler samples the main thread by wall clock, so this also
  // holds the time the process sat preempted right after a write woke its peer (PostgreSQL
  // or the load generator) on a busy machine; strace shows the calls themselves take µs.
  [WRITES, (url, fn) => url === '' && /^write(v|Buffer|String|Utf8String|Latin1String|AsciiString)?$/.test(fn)],
  ['other JavaScript', (url) => url !== ''],
  ['native and runtime (V8, libuv, JSON)', () => true],
];

export interface ProfileLayer {
  layer: string;
  ms: number;
  /** Percent of busy time (neither idle nor the profiler's own calls). */
  percentOfBusy: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  layers: ProfileLayer[];
  topFunctions: Array<{ fn: string; ms: number }>;
}

export async function summarizeProfile(file: string): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));

  const byLayer = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const fn = functionName || '(anonymous)';
    const layer = LAYERS.find(([, matches]) => matches(url, fn))![0];
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + micros);
    if (!NOT_BUSY.has(layer)) {
      const key = `${fn} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    }
  }
  const wall = (profile.endTime - profile.startTime) / 1000;
  const busy = [...byLayer].filter(([layer]) => !NOT_BUSY.has(layer)).reduce((sum, [, micros]) => sum + micros, 0) / 1000;
  return {
    wallMs: Math.round(wall),
    busyMs: Math.round(busy),
    layers: [...byLayer]
      .map(([layer, micros]) => ({ layer, ms: Math.round(micros / 1000), percentOfBusy: NOT_BUSY.has(layer) ? 0 : Math.round((micros / 1000 / busy) * 1000) / 10 }))
      .sort((a, b) => b.ms - a.ms),
    topFunctions: [...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, micros]) => ({ fn, ms: Math.round(micros / 100) / 10 })),
  };
}
