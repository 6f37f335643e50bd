// Where the API process spends its CPU: a V8 CPU profile taken under load (the
// inspector's Profiler, switched on around one measurement), its self time summed by the
// package each function belongs to, read from its file's node_modules path: no list of
// names to keep up to date as dependencies change.
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

// The last node_modules/ segment names the package: `name`, or `@scope/name`.
const PACKAGE = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//;

/** The group a function's self time counts for: a package, our own code, Node, or V8. */
export function groupOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return IDLE;
  // The inspector call that starts and stops the profiler: not the API's work.
  if (url === 'node:inspector' || url === 'node:inspector/promises') return PROFILER;
  if (functionName === '(garbage collector)') return 'garbage collection';
  const inPackage = PACKAGE.exec(url);
  if (inPackage) return inPackage[1]!;
  if (url.startsWith('node:')) return 'node';
  // Our own modules (src/, and the bench's API process wrapper).
  if (url.startsWith('file://')) return 'tenantgraph';
  // Native write calls. The profiler samples the main thread by wall clock, so this also
  // holds the time the process sat preempted right after a write woke its peer (PostgreSQL
  // or the load generator) on a busy machine; strace shows the calls themselves take µs.
  if (url === '' && /^write(v|Buffer|String|Utf8String|Latin1String|AsciiString)?$/.test(functionName)) {
    return WRITES;
  }
  if (url !== '') return 'other JavaScript';
  return 'native and runtime (V8, libuv, JSON)';
}

export interface ProfileLayer {
  /** A package (`grafast`, `@dataplan/pg`), `tenantgraph`, `node`, or a runtime group. */
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
  profile.samples.forEach((id, index) =>
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  );

  const byLayer = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const fn = functionName || '(anonymous)';
    const layer = groupOf(url, fn);
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + micros);
    if (!NOT_BUSY.has(layer)) {
      const key = `${fn} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    }
  }
  const wall = (profile.endTime - profile.startTime) / 1000;
  const busy =
    [...byLayer].filter(([layer]) => !NOT_BUSY.has(layer)).reduce((sum, [, micros]) => sum + micros, 0) /
    1000;
  return {
    wallMs: Math.round(wall),
    busyMs: Math.round(busy),
    layers: [...byLayer]
      .map(([layer, micros]) => ({
        layer,
        ms: Math.round(micros / 1000),
        percentOfBusy: NOT_BUSY.has(layer) ? 0 : Math.round((micros / 1000 / busy) * 1000) / 10,
      }))
      .sort((a, b) => b.ms - a.ms),
    topFunctions: [...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, micros]) => ({ fn, ms: Math.round(micros / 100) / 10 })),
  };
}
