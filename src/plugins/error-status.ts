// The HTTP status of GraphQL responses, by the GraphQL-over-HTTP specification:
//
// - an operation that was executed (its response has `data`, even null) answers 200,
//   with each error's code in `extensions.code`, for application/json and for
//   application/graphql-response+json alike: clients such as Apollo, urql and Relay
//   read a non-2xx status as a network failure;
// - a request refused before execution (no `data`: a document over a limit, an invalid
//   query, a throttled caller) answers its code's status from the error catalogue, and
//   Retry-After when the refusal says when to come back.
//
// Responses of grafserv's own (its 4xx for a missing query, a wrong method) keep theirs.
import { CATALOGUE, isErrorCode } from '../errors/catalogue.ts';
import { version } from '../version.ts';

interface Body {
  data?: unknown;
  errors?: Array<{ extensions?: { code?: unknown; retryAfter?: number } }>;
}

function refusalStatus(body: Body): { status: number; retryAfter?: number } | undefined {
  if (body.data !== undefined || !body.errors?.length) return undefined;
  const codes = body.errors.map((error) => error.extensions?.code);
  if (!codes.every(isErrorCode)) return undefined;
  const retryAfter = body.errors.find((error) => typeof error.extensions?.retryAfter === 'number')?.extensions
    ?.retryAfter;
  return {
    status: Math.max(...codes.map((code) => CATALOGUE[code].status)),
    ...(retryAfter !== undefined && { retryAfter }),
  };
}

export const ErrorStatusPlugin: GraphileConfig.Plugin = {
  name: 'ErrorStatusPlugin',
  version,
  grafserv: {
    middleware: {
      async processRequest(next) {
        const result = await next();
        if (!result || result.type !== 'buffer' || !result.buffer.includes('"errors"')) return result;
        const body = JSON.parse(result.buffer.toString('utf8')) as Body;
        if (body.data !== undefined)
          return result.statusCode === 200 ? result : { ...result, statusCode: 200 };
        const refused = refusalStatus(body);
        if (!refused) return result;
        const retryAfter = refused.retryAfter ?? (refused.status === 503 ? 1 : undefined);
        return {
          ...result,
          statusCode: refused.status,
          headers: {
            ...result.headers,
            ...(retryAfter !== undefined && { 'retry-after': String(retryAfter) }),
          },
        };
      },
    },
  },
};
