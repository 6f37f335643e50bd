// An API server in this process with the operators' listener (src/observability/) on a
// random loopback port, and readers for what that listener serves.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { startApiServer, type ApiServer } from '../../src/server.ts';
import { testServerOptions, type TestApiOptions } from './api.ts';

export interface ObservedApi {
  server: ApiServer;
  observability: Observability;
  adminToken: string;
  /** A POST to /graphql. */
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** GET /metrics, parsed. */
  scrape(): Promise<Sample[]>;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, samples only (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!]),
    );
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and exactly these labels (0 when absent). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(labels).length === Object.keys(sample.labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

export function useObservedApi(
  options: Omit<TestApiOptions, 'devTools' | 'observability'> = {},
  operationNames: string[] = [],
): ObservedApi {
  const api = { adminToken: randomBytes(24).toString('hex') } as ObservedApi;
  beforeAll(async () => {
    const observability = await startObservability({
      host: '127.0.0.1',
      port: 0,
      adminToken: api.adminToken,
      operationNames,
      logger: testServerOptions().logger,
    });
    const server = await startApiServer({ ...testServerOptions(options), observability });
    Object.assign(api, {
      server,
      observability,
      async post(body: unknown, headers: Record<string, string> = {}) {
        const response = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: await response.json() };
      },
      async scrape() {
        const response = await fetch(`${observability.url}/metrics`);
        if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
        return parseMetrics(await response.text());
      },
    });
  });
  afterAll(async () => {
    await api.server?.close();
    await api.observability?.close();
  });
  return api;
}
