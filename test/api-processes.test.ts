// API_PROCESSES=2: `npm start` as a primary and two API workers on one port. Requests
// spread over both workers; a worker that dies is restarted while the other serves; when
// PostgreSQL goes away, every worker's database gate answers 503 at once; SIGTERM drains
// both workers, then stops the job worker and the embedded PostgreSQL, and exits 0. Each
// process serves its own metrics: API process i on METRICS_PORT + i - 1, the primary after them.
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { expect, test } from 'vitest';
import { startWithOwnDatabase } from './support/api-process.ts';
import { freePort } from '../support/free-port.ts';

// A new connection per request (no keep-alive), so the primary hands each to the next worker.
function post(port: number): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            code: (JSON.parse(body) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]
              ?.extensions?.code,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query: '{ currentUser { rowId } }' }));
  });
}

const requestPids = (output: string, status: number) =>
  new Set(
    output
      .split('\n')
      // The request log's line of each answer (a 5xx at level error).
      .filter((line) => line.includes(`"res":{"statusCode":${status}}`))
      .map((line) => (JSON.parse(line) as { pid: number }).pid),
  );

async function until(condition: () => boolean, what: string, output: () => string, timeoutMs = 60_000) {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`${what} did not happen:\n${output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test(
  'two API processes: both serve, a dead one is restarted, each closes its database gate, SIGTERM stops all',
  { timeout: 150_000 },
  async () => {
    const metricsPort = await freePort();
    const api = await startWithOwnDatabase({
      TRUSTED_DOCUMENTS: 'off',
      API_PROCESSES: '2',
      METRICS_PORT: String(metricsPort),
    });
    const { port, dataDir, child, exited } = api;
    try {
      const ready = JSON.parse(
        api
          .output()
          .split('\n')
          .find((line) => line.includes('tenantgraph is ready'))!,
      ) as {
        pid: number;
        processes: number;
        pids: number[];
      };
      expect(ready.processes).toBe(2);
      expect(new Set(ready.pids).size).toBe(2);
      expect(ready.pids).not.toContain(ready.pid);

      const answers = await Promise.all(Array.from({ length: 12 }, () => post(port)));
      expect(answers.every(({ status }) => status === 200)).toBe(true);
      expect(requestPids(api.output(), 200)).toEqual(new Set(ready.pids));

      // Every process on its own metrics port: the two API processes' counts add up to the
      // 12 requests, and the primary (the job worker) serves the queue's gauge.
      const scrape = async (offset: number) =>
        (await fetch(`http://127.0.0.1:${metricsPort + offset}/metrics`)).text();
      const served = (text: string) =>
        Number(/^tenantgraph_http_requests_total\{[^}]*status="200"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
      const [first, second, primary] = await Promise.all([scrape(0), scrape(1), scrape(2)]);
      expect(served(first)).toBeGreaterThan(0);
      expect(served(second)).toBeGreaterThan(0);
      expect(served(first) + served(second)).toBe(12);
      expect(primary).toContain('tenantgraph_jobs_queued');
      expect(served(primary)).toBe(0);

      // A worker dies: the other keeps serving, and the primary starts a new one.
      process.kill(ready.pids[0]!, 'SIGKILL');
      await until(
        () => /API process 1 \(pid \d+\) exited with signal SIGKILL; restarting it in 1 s/.test(api.output()),
        'the restart',
        () => api.output(),
      );
      expect((await post(port)).status).toBe(200);
      await until(
        () => api.output().includes('API process 1 is serving again'),
        'the restarted worker',
        () => api.output(),
      );

      // PostgreSQL goes away: each worker's gate closes and answers 503 DATABASE_UNAVAILABLE.
      const postmaster = Number(
        (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
      );
      process.kill(postmaster, 'SIGKILL');
      const refusals: Array<{ status: number; code: string | undefined }> = [];
      const deadline = Date.now() + 30_000;
      while (requestPids(api.output(), 503).size < 2) {
        if (Date.now() > deadline)
          throw new Error(
            `no 503 from both workers: ${JSON.stringify(refusals)}\n${api.output().slice(-3000)}`,
          );
        refusals.push(await post(port));
      }
      refusals.length = 0;
      for (let i = 0; i < 8; i += 1) refusals.push(await post(port));
      expect(refusals.every(({ status, code }) => status === 503 && code === 'DATABASE_UNAVAILABLE')).toBe(
        true,
      );
      expect(api.output().match(/database unreachable; answering 503/g)?.length).toBeGreaterThanOrEqual(2);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(api.output()).toMatch(/SIGTERM: 2 API processes finish their in-flight requests/);
    } finally {
      await api.remove();
    }
  },
);
