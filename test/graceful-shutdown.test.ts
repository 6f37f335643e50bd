// `npm start`'s process, end to end: it boots its own embedded PostgreSQL, and on
// SIGTERM stops accepting, finishes the requests in flight, releases its pool, stops
// PostgreSQL and exits 0. Whatever does not close within SHUTDOWN_TIMEOUT_MS does not
// keep it alive: it exits 1 and names it.
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { expect, test } from 'vitest';
import { tokenFor } from './support/api.ts';
import { startApiProcess, startWithOwnDatabase } from './support/api-process.ts';

const portAnswers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

test(
  'SIGTERM: in-flight requests finish, then the pool and the embedded PostgreSQL stop',
  { timeout: 90_000 },
  async () => {
    // This test sends its own operations, not the web app's trusted documents.
    const api = await startWithOwnDatabase({ TRUSTED_DOCUMENTS: 'off' });
    const { port, pgPort, child, exited } = api;
    try {
      expect(await portAnswers(pgPort)).toBe(true);

      // One user each: the per-user bulkhead (TENANT_CONCURRENCY) is not what this tests.
      const inFlight = Array.from({ length: 20 }, () =>
        fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${tokenFor({ userId: randomUUID() })}`,
          },
          body: JSON.stringify({ query: '{ currentUser { rowId } currentTenant { rowId } }' }),
        }).then(async (response) => [response.status, (await response.json()) as { data: unknown }] as const),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill('SIGTERM');

      const answers = await Promise.allSettled(inFlight);
      const delivered = answers
        .filter((answer) => answer.status === 'fulfilled')
        .map((answer) => answer.value);
      // Requests the server accepted before SIGTERM are answered in full; any it had not yet
      // accepted are refused at the socket, never cut off halfway.
      expect(delivered.length).toBeGreaterThan(0);
      for (const [status, body] of delivered)
        expect([status, body.data]).toEqual([200, { currentUser: null, currentTenant: null }]);
      expect(await exited).toBe(0);
      expect(api.output()).toMatch(/SIGTERM: finishing in-flight requests/);
      expect(await portAnswers(pgPort)).toBe(false);
    } finally {
      await api.remove();
    }
  },
);

test(
  'an embedded PostgreSQL gone with its data folder does not hold up SIGTERM',
  { timeout: 90_000 },
  async () => {
    const api = await startWithOwnDatabase();
    const { pgPort, dataDir, child, exited } = api;
    try {
      // What an operator saw: the data folder deleted under a running cluster, and PostgreSQL gone.
      const postmaster = Number(
        (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
      );
      // PostgreSQL still writes meanwhile: rm retries a folder that refills (ENOTEMPTY).
      await rm(dataDir, { recursive: true, force: true, maxRetries: 10 });
      process.kill(postmaster, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1000));

      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(await portAnswers(pgPort)).toBe(false);
    } finally {
      await api.remove();
    }
  },
);

test(
  'npm run worker: SIGTERM stops the job worker and its embedded PostgreSQL, exit 0',
  { timeout: 90_000 },
  async () => {
    const worker = await startWithOwnDatabase(
      { LOG_LEVEL: 'info' },
      { entry: 'src/cli/worker.ts', ready: 'worker running' },
    );
    try {
      expect(await portAnswers(worker.pgPort)).toBe(true);
      const signalled = Date.now();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(worker.output()).toMatch(/SIGTERM: finishing running jobs, then stopping/);
      expect(worker.output()).not.toMatch(/not closed after SHUTDOWN_TIMEOUT_MS/);
      expect(await portAnswers(worker.pgPort)).toBe(false);
    } finally {
      await worker.remove();
    }
  },
);

test(
  'a request that never completes: after SHUTDOWN_TIMEOUT_MS the process exits 1, naming what it could not close',
  { timeout: 90_000 },
  async () => {
    const api = await startApiProcess({
      env: { SHUTDOWN_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '120000', WORKER: 'off', LOG_LEVEL: 'info' },
    });
    const exited = new Promise<number | null>((resolve) => api.child.on('exit', (code) => resolve(code)));
    try {
      // A client that announces a body and never sends it: its request stays in flight.
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.on('error', () => {});
      socket.write(
        'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query"',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));

      const signalled = Date.now();
      api.child.kill('SIGTERM');
      expect(await exited).toBe(1);
      const waited = Date.now() - signalled;
      expect(waited).toBeGreaterThanOrEqual(1_400);
      expect(waited).toBeLessThan(10_000);
      expect(api.output()).toMatch(
        /not closed after SHUTDOWN_TIMEOUT_MS \(1500 ms\): HTTP server and database pool/,
      );
      socket.destroy();
    } finally {
      api.kill();
    }
  },
);
