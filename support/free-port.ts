// A loopback port nobody listens on right now (the kernel picks it), for the servers
// the tests and benchmarks start: throwaway PostgreSQL clusters, PgBouncer, API processes.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
