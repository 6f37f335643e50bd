// The noisy tenant's load: one request sent over and over, as fast as the API answers,
// by an autocannon instance in a worker thread of its own. A separate event loop keeps
// the noisy tenant's large responses (or a tight loop of 429s) from delaying the
// victims' autocannon in the main thread, which would inflate the victims' latencies
// without the API being any slower. CPU still counts as the load generator's.
//
// Every response is sorted by what it means for a tenant spending a budget:
//   served     200 without errors;
//   throttled  429 (RATE_LIMITED, CONCURRENCY_LIMITED: the API refusing on purpose);
//   other      anything else (4xx, 5xx, a 200 with errors, timeouts, connection errors).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';
import { assertLoopback } from './load.ts';
import { summarize, type LatencySummary } from './stats.ts';

export interface NoisyLoad {
  url: string;
  token: string;
  /** The JSON body of every request. */
  body: string;
  connections: number;
  durationSeconds: number;
}

export interface NoisyLoadResult {
  connections: number;
  seconds: number;
  served: number;
  throttled: number;
  other: number;
  servedPerSecond: number;
  throttledPerSecond: number;
  otherPerSecond: number;
  /** Latency of the served requests only. */
  servedLatencyMs: LatencySummary;
  /** Responses by HTTP status ("error" for timeouts and connection errors). */
  statuses: Record<string, number>;
  /** 429s by `extensions.code`. */
  throttledCodes: Record<string, number>;
  otherSamples: string[];
  /** `extensions.cost` of the last served and the last throttled response, when the API sends one. */
  cost: { served?: unknown; throttled?: unknown };
}

const WORKER_KIND = 'tenantgraph-noisy-load';

/** Runs the load in a worker thread and resolves with its counts. */
export function runNoisyLoad(load: NoisyLoad): Promise<NoisyLoadResult> {
  assertLoopback(load.url);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind: WORKER_KIND, load } });
    let result: NoisyLoadResult | undefined;
    worker.once('message', (message: NoisyLoadResult) => (result = message));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      result
        ? resolve(result)
        : reject(new Error(`The noisy load worker exited with code ${code} without a result`)),
    );
  });
}

function errorCode(body: string): string {
  try {
    return String(
      (JSON.parse(body) as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors?.[0]?.extensions
        ?.code ?? 'no code',
    );
  } catch {
    return 'not JSON';
  }
}

function costOf(body: string | undefined): unknown {
  if (body === undefined) return undefined;
  try {
    return (JSON.parse(body) as { extensions?: { cost?: unknown } }).extensions?.cost;
  } catch {
    return undefined;
  }
}

function generate(load: NoisyLoad): Promise<NoisyLoadResult> {
  const statuses: Record<string, number> = {};
  const throttledCodes: Record<string, number> = {};
  const servedLatencies: number[] = [];
  const otherSamples: string[] = [];
  let throttled = 0;
  let servedWithErrors = 0;
  let lastServed: string | undefined;
  let lastThrottled: string | undefined;
  // autocannon calls onResponse, then emits 'response' for the same response, synchronously.
  let lastWasServed = false;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: load.url,
        connections: load.connections,
        duration: load.durationSeconds,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: '/graphql',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${load.token}` },
            body: load.body,
            onResponse: (status: number, body: string) => {
              lastWasServed = status === 200 && !body.includes('"errors":[');
              if (status === 200) {
                if (!lastWasServed) {
                  servedWithErrors += 1;
                  if (otherSamples.length < 20)
                    otherSamples.push(
                      `200 with errors: ${body.slice(body.indexOf('"errors":['), body.indexOf('"errors":[') + 300)}`,
                    );
                } else {
                  lastServed = body;
                }
              } else if (status === 429) {
                throttled += 1;
                lastThrottled = body;
                const code = errorCode(body);
                throttledCodes[code] = (throttledCodes[code] ?? 0) + 1;
              } else if (otherSamples.length < 20) {
                otherSamples.push(`${status}: ${body.slice(0, 300)}`);
              }
            },
          },
        ],
      },
      (error: unknown, outcome: autocannon.Result) => {
        if (error) return reject(error);
        // Its own clock: from the first request to the end of the load, without the worker's start.
        const seconds = outcome.duration;
        // autocannon counts a timeout as an error too.
        if (outcome.errors > 0) {
          statuses.error = outcome.errors;
          otherSamples.push(`${outcome.errors} connection errors or timeouts (${outcome.timeouts} timeouts)`);
        }
        const answered = Object.entries(statuses)
          .filter(([status]) => status !== 'error')
          .reduce((sum, [, count]) => sum + count, 0);
        const served = (statuses['200'] ?? 0) - servedWithErrors;
        const other = answered - served - throttled + outcome.errors;
        const rate = (count: number) => Math.round((count / seconds) * 10) / 10;
        resolve({
          connections: load.connections,
          seconds: Math.round(seconds * 100) / 100,
          served,
          throttled,
          other,
          servedPerSecond: rate(served),
          throttledPerSecond: rate(throttled),
          otherPerSecond: rate(other),
          servedLatencyMs: summarize(servedLatencies),
          statuses,
          throttledCodes,
          otherSamples: [...new Set(otherSamples)].slice(0, 5),
          cost: { served: costOf(lastServed), throttled: costOf(lastThrottled) },
        });
      },
    );
    // autocannon passes the client first, then status, bytes and the response time (ms).
    (instance as unknown as NodeJS.EventEmitter).on(
      'response',
      (_client: unknown, status: number, _bytes: number, responseTime: number) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (lastWasServed) servedLatencies.push(responseTime);
      },
    );
  });
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  const result = await generate((workerData as { load: NoisyLoad }).load);
  parentPort!.postMessage(result);
}
