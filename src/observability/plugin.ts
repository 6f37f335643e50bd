// What the metrics and the per-tenant usage need from inside PostGraphile, recorded on
// the request's `usage` (res.locals.usage, the same object the request log reads; who
// the request was is its identity, res.locals.identity, which nothing here changes):
//
// - the error codes of each response, as clients get them (after masking), most severe
//   first: the outcome label;
// - the time the request's transactions held a database connection (`databaseMs`), by
//   timing the context's withPgClient, through which @dataplan/pg runs every statement.
import { CATALOGUE, isErrorCode } from '../errors/catalogue.ts';
import type { Usage } from '../limits/plugin.ts';

declare module '../limits/plugin.ts' {
  interface Usage {
    /** Milliseconds the request's transactions held a database connection (overlaps summed). */
    databaseMs?: number;
    /** The operation reached execution (past parsing, validation and the document limits). */
    executed?: boolean;
  }
}

declare global {
  namespace Express {
    interface Locals {
      /** The codes of the errors the response carried, most severe first (observability). */
      errorCodes?: string[];
    }
  }
}

type WithPgClient = (settings: unknown, callback: unknown) => Promise<unknown>;

const severity = (code: string) => (isErrorCode(code) ? CATALOGUE[code].status : 500);

/** The codes of a GraphQL response's errors, most severe first; [] for none. */
export function errorCodesOf(body: { errors?: Array<{ extensions?: { code?: unknown } }> }): string[] {
  const codes = (body.errors ?? []).map((error) =>
    typeof error.extensions?.code === 'string' ? error.extensions.code : 'UNKNOWN',
  );
  return codes.sort((a, b) => severity(b) - severity(a));
}

export const ObservabilityPlugin: GraphileConfig.Plugin = {
  name: 'ObservabilityPlugin',
  version: '1.0.0',
  grafserv: {
    middleware: {
      async processRequest(next, event) {
        const result = await next();
        const locals = event.requestDigest.requestContext.expressv4?.res.locals;
        if (!locals || !result) return result;
        if (result.type === 'buffer' && result.buffer.includes('"errors"')) {
          locals.errorCodes = errorCodesOf(JSON.parse(result.buffer.toString('utf8')));
        } else if (result.type === 'json') {
          locals.errorCodes = errorCodesOf(result.json as never);
        }
        return result;
      },
    },
  },
  grafast: {
    middleware: {
      execute(next, { args }) {
        const context = args.contextValue as unknown as { usage?: Usage; withPgClient?: WithPgClient };
        const usage = context.usage;
        const inner = context.withPgClient;
        if (usage) {
          usage.executed = true;
          if (typeof inner === 'function') {
            context.withPgClient = (settings, callback) => {
              const started = performance.now();
              return inner(settings, callback).finally(() => {
                usage.databaseMs = (usage.databaseMs ?? 0) + performance.now() - started;
              });
            };
          }
        }
        return next();
      },
    },
  },
};
