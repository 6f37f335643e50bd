// Some tests drive software of the operating system: Debian's chromium and pgbouncer,
// a Redis server. CI installs or has them (.ci/run), and there a missing one fails the
// run. On a developer's machine without one, the tests that need it are skipped with a
// line saying why, so `npm test` still passes with nothing but Node and npm.
import { connect } from 'node:net';

/** True when the tests needing `what` must be skipped; throws in CI, where nothing may be. */
export function missing(what: string, available: boolean, howToGetIt: string): boolean {
  if (available) return false;
  if (process.env.CI) throw new Error(`${what} is not available, and CI must run every test: ${howToGetIt}`);
  process.stderr.write(`\nskipping the tests that need ${what}: it is not available here (${howToGetIt})\n`);
  return true;
}

/** Whether something accepts TCP connections at host:port (within a second). */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
