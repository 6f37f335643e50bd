// One structured log line per request (pino-http): request id, tenant, user, GraphQL
// operation name, its requested and actual cost, status and duration. The tenant is the
// one the request was charged to, a verified membership, never a bare token claim.
// Headers, bodies and variables are never logged, so neither are tokens or the values
// users send.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Usage } from '../limits/plugin.ts';
import type { Logger } from '../logger.ts';

type ExpressResponse = ServerResponse & {
  locals?: { identity?: { userId?: string; apiKeyId?: string } | null; usage?: Usage };
};

export function requestLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customProps: (_req: IncomingMessage, res: ServerResponse) => {
      const { identity, usage } = (res as ExpressResponse).locals ?? {};
      return {
        tenantId: usage?.tenantId,
        userId: identity?.userId,
        apiKeyId: identity?.apiKeyId,
        operationName: usage?.operationName,
        requestedCost: usage?.requestedCost,
        actualCost: usage?.actualCost,
      };
    },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
      error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
  });
}
