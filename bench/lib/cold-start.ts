// Cold start: `npm start` in a fresh copy of the project (the files git tracks, the same
// node_modules, a new empty data folder), timed from spawn to the first GraphQL answer
// that reads products. It includes creating the embedded cluster (initdb), the roles,
// the database and its migrations, the demo data and the schema build. The copy keeps
// the working tree's .data/ out of it.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/database/migrations.ts';
import { freePort } from '../../support/free-port.ts';

/** Tracked folders a start does not read: tests, benchmarks, docs, the example app (its dependencies are not copied). */
const NOT_NEEDED = new Set(['bench', 'test', 'docs', 'examples', '.ci']);

export interface ColdStart {
  /** Spawn of `npm start` to the first answered query, ms. */
  firstAnswerMs: number;
  /** Spawn to "tenantgraph is ready" on stdout, ms. */
  readyMs: number | null;
  command: string;
}

export async function measureColdStart(timeoutMs = 60_000): Promise<ColdStart> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-cold-start-'));
  // Run as root, the embedded cluster runs as the OS user postgres, which must reach the data folder.
  await chmod(dir, 0o755);
  try {
    // A fresh clone: every file git tracks, but the folders `npm start` has no use for
    // (a hand-kept list of what it needs went stale once already, when bin/ came in).
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: projectRoot, encoding: 'utf8' })
      .split('\0')
      .filter((file) => file !== '' && !NOT_NEEDED.has(file.split('/')[0]!));
    for (const file of tracked) {
      await cp(path.join(projectRoot, file), path.join(dir, file), { recursive: true });
    }
    await symlink(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const [apiPort, postgresPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      EMBEDDED_POSTGRES_DIR: '.data/postgres',
    };
    for (const name of [
      'DATABASE_URL',
      'AUTH_DATABASE_URL',
      'ROOT_DATABASE_URL',
      'SHADOW_DATABASE_URL',
      'JWT_SECRET',
      'JWT_PUBLIC_KEY',
      'JWT_JWKS_URL',
      'GRAPHILE_ENV',
    ]) {
      delete env[name];
    }
    const started = performance.now();
    // Its own process group, so it (npm and the node it runs) can be stopped as one.
    const child = spawn('npm', ['start'], {
      cwd: dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let readyMs: number | null = null;
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (readyMs === null && output.includes('tenantgraph is ready')) readyMs = performance.now() - started;
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let childExited = false;
    void exited.then(() => (childExited = true));

    try {
      const deadline = started + timeoutMs;
      while (performance.now() < deadline) {
        if (childExited) throw new Error(`npm start exited before answering:\n${output.slice(-2000)}`);
        const token = /Bearer ([A-Za-z0-9_.-]+)/.exec(output)?.[1];
        try {
          const response = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(token && { authorization: `Bearer ${token}` }),
            },
            body: JSON.stringify({ query: '{ products(first: 5) { nodes { name } } }' }),
          });
          const body = (await response.json()) as { data?: { products?: { nodes?: unknown[] } } };
          if (response.ok && (body.data?.products?.nodes?.length ?? 0) > 0) {
            return {
              firstAnswerMs: Math.round(performance.now() - started),
              readyMs: readyMs && Math.round(readyMs),
              command: 'npm start',
            };
          }
        } catch {
          // Not listening yet.
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`npm start did not answer within ${timeoutMs} ms:\n${output.slice(-2000)}`);
    } finally {
      // SIGINT to the group: npm start's own handler finishes requests and stops its cluster.
      if (!childExited) {
        process.kill(-child.pid!, 'SIGINT');
        const timer = setTimeout(() => !childExited && process.kill(-child.pid!, 'SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
    }
  } finally {
    // The embedded cluster stops a moment after npm start exits; give it time to let go.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
