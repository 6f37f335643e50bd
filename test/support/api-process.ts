// `npm start`'s own entry point (src/main.ts) as a child process in production mode,
// over the run's test database, for tests about the process itself: its heap, what
// production serves. Resolves once /readyz answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { TEST_SECRET } from './api.ts';
import { freePort } from './free-port.ts';

const database = inject('database');

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  kill(): void;
}

export async function startApiProcess({
  env = {},
  nodeFlags = [],
}: { env?: Record<string, string>; nodeFlags?: string[] } = {}): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, 'src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      DATABASE_URL: database.ownerUrl,
      AUTH_DATABASE_URL: database.authenticatorUrl,
      DATABASE_VISITOR: database.visitor,
      DATABASE_ANONYMOUS: database.anonymous,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (
    !(await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, child, output: () => output, kill: () => child.kill('SIGKILL') };
}
