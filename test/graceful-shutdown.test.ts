// `npm start`'s process, end to end: it boots its own embedded PostgreSQL, and on
// SIGTERM stops accepting, finishes the requests in flight, releases its pool, stops
// PostgreSQL and exits 0.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { TEST_SECRET, tokenFor } from './support/api.ts';
import { freePort } from './support/free-port.ts';

const portAnswers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

test('SIGTERM: in-flight requests finish, then the pool and the embedded PostgreSQL stop', { timeout: 90_000 }, async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-shutdown-'));
  const [port, pgPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      // This test sends its own operations, not the web app's trusted documents.
      TRUSTED_DOCUMENTS: 'off',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      EMBEDDED_POSTGRES_DIR: path.join(folder, 'postgres'),
      EMBEDDED_POSTGRES_PORT: String(pgPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const started = Date.now();
    while (!output.includes('tenantgraph is ready')) {
      if (child.exitCode !== null || Date.now() - started > 60_000) throw new Error(`did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await portAnswers(pgPort)).toBe(true);

    // One user each: the per-user bulkhead (TENANT_CONCURRENCY) is not what this tests.
    const inFlight = Array.from({ length: 20 }, () =>
      fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor({ userId: randomUUID() })}` },
        body: JSON.stringify({ query: '{ currentUser { rowId } currentTenant { rowId } }' }),
      }).then(async (response) => [response.status, (await response.json()) as { data: unknown }] as const),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGTERM');

    const answers = await Promise.allSettled(inFlight);
    const delivered = answers.filter((answer) => answer.status === 'fulfilled').map((answer) => answer.value);
    // Requests the server accepted before SIGTERM are answered in full; any it had not yet
    // accepted are refused at the socket, never cut off halfway.
    expect(delivered.length).toBeGreaterThan(0);
    for (const [status, body] of delivered) expect([status, body.data]).toEqual([200, { currentUser: null, currentTenant: null }]);
    expect(await exited).toBe(0);
    expect(output).toMatch(/SIGTERM: finishing in-flight requests/);
    expect(await portAnswers(pgPort)).toBe(false);
  } finally {
    child.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
  }
});
