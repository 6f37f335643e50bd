// `npm start` itself with API_PROCESSES=N (src/cluster.ts: a primary and N API workers on
// one port), over the bench database, for the scaling section: the supported way to use
// many cores, measured as users run it, rather than the harness's own cluster.
//
// It is started as `npm start` would start it (bin/start.js with npm start's node flags,
// NODE_ENV=production, compiled when dist/ is fresh), with the database given the way a
// deployment gives it (DATABASE_URL as the owner, AUTH_DATABASE_URL as the authenticator)
// and no job worker. Its request logs are written and discarded, as the harness's own
// API process does. Ready once /readyz answers 200. Memory and profiles are not
// available; CPU and RSS are sampled over the whole process tree (sampler.ts).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/database/migrations.ts';
import { freePort } from '../../test/support/free-port.ts';
import type { ApiProcess } from './api.ts';
import { productionNodeFlags } from './api.ts';

export interface ProductionClusterOptions {
  ownerUrl: string;
  authenticatorUrl: string;
  /** HS256 secret the harness signs its tokens with. */
  secret: string;
  poolSize: number;
  processes: number;
  /** --api-env: the run's extra environment. */
  env: Record<string, string>;
}

const READY_TIMEOUT_MS = 120_000;

export async function startProductionCluster(options: ProductionClusterOptions): Promise<ApiProcess> {
  const port = await freePort();
  // Its log goes to a file (no CPU of the load generator's), read only to say why it failed.
  const logFile = path.join(os.tmpdir(), `tenantgraph-bench-cluster-${process.pid}-${port}.log`);
  const log = openSync(logFile, 'w');
  const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  const started = performance.now();
  const child = spawn(process.execPath, [...productionNodeFlags(), path.join(projectRoot, 'bin/start.js')], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      DATABASE_URL: options.ownerUrl,
      AUTH_DATABASE_URL: options.authenticatorUrl,
      API_PROCESSES: String(options.processes),
      PG_POOL_MAX: String(options.poolSize),
      WORKER: 'off',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: options.secret,
      TRUSTED_DOCUMENTS: 'off',
      ...options.env,
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `npm start (API_PROCESSES=${options.processes}) exited with code ${child.exitCode}:\n${tail()}`,
      );
    if (performance.now() - started > READY_TIMEOUT_MS) {
      child.kill('SIGKILL');
      throw new Error(
        `npm start (API_PROCESSES=${options.processes}) was not ready after ${READY_TIMEOUT_MS / 1000} s`,
      );
    }
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const unavailable = () => Promise.reject(new Error('not available for npm start’s cluster'));
  return {
    url,
    pid: child.pid!,
    startMs: performance.now() - started,
    captured: unavailable,
    memory: unavailable,
    startProfile() {},
    stopProfile: unavailable,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
