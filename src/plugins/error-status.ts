// HTTP status for responses that failed as a whole. GraphQL answers 200 even when
// every field failed; clients and proxies deserve better: when no field produced data
// and every error carries one of our codes, the status says what went wrong (a
// request already running when the database went away gets 503 like the closed gate
// answers). Partial successes stay 200. Only responses with errors are inspected.
const statusByCode: Record<string, number> = {
  DATABASE_UNAVAILABLE: 503,
  QUERY_TIMEOUT: 503,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_VALUE: 400,
  INVALID_INPUT: 400,
  INVALID_REFERENCE: 400,
  INTERNAL_SERVER_ERROR: 500,
};

function statusOf(buffer: Buffer): number | undefined {
  const body = JSON.parse(buffer.toString('utf8')) as { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
  if (body.data && Object.values(body.data).some((value) => value !== null)) return undefined;
  const statuses = (body.errors ?? []).map((error) => statusByCode[error.extensions?.code ?? '']);
  if (statuses.length === 0 || statuses.some((status) => status === undefined)) return undefined;
  return Math.max(...(statuses as number[]));
}

export const ErrorStatusPlugin: GraphileConfig.Plugin = {
  name: 'ErrorStatusPlugin',
  version: '1.0.0',
  grafserv: {
    middleware: {
      async processRequest(next) {
        const result = await next();
        if (!result || result.type !== 'buffer' || result.statusCode !== 200 || !result.buffer.includes('"errors"')) return result;
        const statusCode = statusOf(result.buffer);
        if (!statusCode) return result;
        return { ...result, statusCode, headers: { ...result.headers, ...(statusCode === 503 && { 'retry-after': '1' }) } };
      },
    },
  },
};
