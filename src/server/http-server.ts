// The HTTP server the routes and websockets are mounted on, with the request timeouts;
// closing it lets in-flight requests finish. listen() comes last, once all is mounted.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { TenantgraphOptions } from '../options.ts';
import type { Closable } from '../shutdown.ts';

export function createHttpServer(
  app: express.Express,
  { timeouts }: Pick<TenantgraphOptions, 'timeouts'>,
): { httpServer: Server; resource: Closable } {
  const httpServer = createServer(app);
  httpServer.requestTimeout = timeouts.requestMs;
  httpServer.headersTimeout = Math.min(timeouts.requestMs, 10_000);
  return {
    httpServer,
    resource: {
      name: 'HTTP server',
      async close() {
        const drained = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        await drained;
      },
    },
  };
}

/** Listens on host and port (0: any free port); the server's URL. */
export async function listen(httpServer: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, resolve);
  });
  const address = httpServer.address() as AddressInfo;
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${hostname}:${address.port}`;
}
