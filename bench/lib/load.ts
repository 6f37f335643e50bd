// The three ways load is generated, each bounded in time and aimed at loopback only:
//   - autocannon against the API (HTTP, one JWT per request);
//   - the raw `pg` driver running the API's own transactions (the database ceiling);
//   - pgbench with a custom script doing the same transactions.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { summarize, type LatencySummary } from './stats.ts';

export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  throughput: number;
  latencyMs: LatencySummary;
  errors: number;
  /** What the errors were, for the report (first few distinct). */
  errorSamples: string[];
}

function result(
  connections: number,
  seconds: number,
  latencies: number[],
  errors: number,
  errorSamples: string[],
): LoadResult {
  return {
    connections,
    seconds: Math.round(seconds * 100) / 100,
    requests: latencies.length,
    throughput: Math.round((latencies.length / seconds) * 10) / 10,
    latencyMs: summarize(latencies),
    errors,
    errorSamples: [...new Set(errorSamples)].slice(0, 5),
  };
}

export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host) && !host.startsWith('127.')) {
    throw new Error(`The benchmark only sends load to loopback addresses, not ${host}`);
  }
}

export interface HttpLoad {
  url: string;
  path: string;
  method: 'GET' | 'POST';
  connections: number;
  durationSeconds: number;
  /** Headers and body of the next request; called once per request. */
  next?: () => { headers: Record<string, string>; body: string };
  /** Whether a response body counts as a success. */
  check?: (body: string) => boolean;
}

export function runHttp(load: HttpLoad): Promise<LoadResult> {
  assertLoopback(load.url);
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: load.url,
        connections: load.connections,
        duration: load.durationSeconds,
        timeout: 10,
        requests: [
          {
            method: load.method,
            path: load.path,
            ...(load.next && {
              setupRequest: (request: autocannon.Request) => {
                const { headers, body } = load.next!();
                return { ...request, headers, body };
              },
            }),
          },
        ],
        ...(load.check && {
          verifyBody: (body: unknown) => {
            const text = String(body);
            const ok = load.check!(text);
            if (!ok && errorSamples.length < 20) errorSamples.push(text.slice(0, 300));
            return ok;
          },
        }),
      },
      (error: unknown, outcome: autocannon.Result) => {
        if (error) return reject(error);
        const seconds = (performance.now() - started) / 1000;
        const errors = outcome.errors + outcome.non2xx + outcome.mismatches;
        if (outcome.non2xx > 0) errorSamples.push(`${outcome.non2xx} responses with a status other than 2xx`);
        resolve(result(load.connections, seconds, latencies, errors, errorSamples));
      },
    );
    // autocannon passes the client first, then status, bytes and the response time (ms).
    (instance as unknown as NodeJS.EventEmitter).on(
      'response',
      (_client: unknown, status: number, _bytes: number, responseTime: number) => {
        if (status >= 200 && status < 300) latencies.push(responseTime);
      },
    );
  });
}

export interface Statement {
  text: string;
  values?: unknown[] | undefined;
  /** Prepared statement name, as the API uses for its own queries. */
  name?: string | undefined;
}

export interface SqlLoad {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Run once on each connection before measuring (what the API's pool does too). */
  setup?: string[];
  /** The statements of the next transaction; called once per transaction. */
  next: () => Statement[];
}

/** Transactions over the raw pg driver, one loop per connection, for a fixed time. */
export async function runSql(load: SqlLoad): Promise<LoadResult> {
  assertLoopback(load.url);
  const clients = await Promise.all(
    Array.from({ length: load.connections }, async () => {
      const client = new pg.Client({ connectionString: load.url });
      await client.connect();
      for (const statement of load.setup ?? []) await client.query(statement);
      return client;
    }),
  );
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + load.durationSeconds * 1000;
  try {
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const statements = load.next();
          const begin = performance.now();
          try {
            for (const statement of statements)
              await client.query({
                text: statement.text,
                values: statement.values,
                ...(statement.name && { name: statement.name }),
              });
            latencies.push(performance.now() - begin);
          } catch (error) {
            errors += 1;
            errorSamples.push((error as Error).message);
            await client.query('rollback').catch(() => {});
          }
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  return result(load.connections, (performance.now() - started) / 1000, latencies, errors, errorSamples);
}

export interface PgbenchLoad {
  url: string;
  connections: number;
  durationSeconds: number;
  script: string;
  variables: Record<string, string | number>;
}

export async function pgbenchAvailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn('pgbench', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', () => resolve(undefined));
    child.on('exit', (code) => resolve(code === 0 ? output.trim() : undefined));
  });
}

/** pgbench with a custom script; latency percentiles from its per-transaction log. */
export async function runPgbench(load: PgbenchLoad): Promise<LoadResult & { tpsReported: number }> {
  assertLoopback(load.url);
  const url = new URL(load.url);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-pgbench-'));
  try {
    const scriptFile = path.join(dir, 'script.sql');
    await writeFile(scriptFile, load.script);
    const args = [
      '--no-vacuum',
      '--protocol=prepared',
      `--client=${load.connections}`,
      `--jobs=${Math.min(load.connections, os.availableParallelism())}`,
      `--time=${load.durationSeconds}`,
      `--file=${scriptFile}`,
      '--log',
      `--log-prefix=${path.join(dir, 'log')}`,
      ...Object.entries(load.variables).map(([name, value]) => `--define=${name}=${value}`),
    ];
    const env = {
      ...process.env,
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
    };
    const started = performance.now();
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn('pgbench', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (err += chunk));
      child.on('error', reject);
      child.on('exit', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    });
    const seconds = (performance.now() - started) / 1000;
    const latencies: number[] = [];
    for (const file of await readdir(dir)) {
      if (!file.startsWith('log')) continue;
      for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
        const fields = line.split(' ');
        // client_id transaction_no time script_no time_epoch time_us: `time` is the latency in µs.
        if (fields.length >= 6 && fields[2] !== 'failed' && fields[2] !== 'skipped')
          latencies.push(Number(fields[2]) / 1000);
      }
    }
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
    const errors = (code === 0 ? 0 : 1) + failed;
    const samples = errors > 0 ? [stderr.split('\n').filter(Boolean).slice(-3).join(' ')] : [];
    // Throughput from pgbench itself (excludes its connection set-up); latency from the log.
    const measured = result(
      load.connections,
      Math.min(seconds, load.durationSeconds),
      latencies,
      errors,
      samples,
    );
    return { ...measured, throughput: Math.round(tps * 10) / 10, tpsReported: tps };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
