// HTTP status for responses that failed as a whole. GraphQL answers 200 even when
// every field failed; clients and proxies deserve better: when no field produced data
// and every error carries one of our codes, the status says what went wrong (a
// request already running when the database went away gets 503 like the closed gate
// answers; a refusal for budget or concurrency gets 429 and Retry-After). Partial
// successes stay 200. Only responses with errors are inspected.
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
  INVALID_ID: 400,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  QUERY_TOO_LARGE: 400,
  QUERY_TOO_DEEP: 400,
  TOO_MANY_ALIASES: 400,
  TOO_MANY_DIRECTIVES: 400,
  INTROSPECTION_DISABLED: 400,
  QUERY_TOO_COMPLEX: 400,
  PAGE_SIZE_TOO_LARGE: 400,
  OFFSET_TOO_LARGE: 400,
  TOO_MANY_GROUPS: 400,
  RESPONSE_TOO_LARGE: 400,
  ROLE_NOT_ALLOWED: 403,
  LAST_OWNER: 409,
  INVITATION_NOT_FOUND: 404,
  INVITATION_REVOKED: 409,
  INVITATION_ALREADY_ANSWERED: 409,
  INVITATION_EXPIRED: 409,
  EMAIL_NOT_VERIFIED: 403,
  INVITATION_FOR_ANOTHER_EMAIL: 403,
  ALREADY_A_MEMBER: 409,
  RATE_LIMITED: 429,
  CONCURRENCY_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
};

interface Body {
  data?: Record<string, unknown> | null;
  errors?: Array<{ extensions?: { code?: string; retryAfter?: number } }>;
}

function failure(buffer: Buffer): { status: number; retryAfter?: number } | undefined {
  const body = JSON.parse(buffer.toString('utf8')) as Body;
  if (body.data && Object.values(body.data).some((value) => value !== null)) return undefined;
  const errors = body.errors ?? [];
  const statuses = errors.map((error) => statusByCode[error.extensions?.code ?? '']);
  if (statuses.length === 0 || statuses.some((status) => status === undefined)) return undefined;
  const retryAfter = errors.find((error) => typeof error.extensions?.retryAfter === 'number')?.extensions?.retryAfter;
  return { status: Math.max(...(statuses as number[])), ...(retryAfter !== undefined && { retryAfter }) };
}

export const ErrorStatusPlugin: GraphileConfig.Plugin = {
  name: 'ErrorStatusPlugin',
  version: '1.0.0',
  grafserv: {
    middleware: {
      async processRequest(next) {
        const result = await next();
        if (!result || result.type !== 'buffer' || (result.statusCode !== 200 && result.statusCode !== 400) || !result.buffer.includes('"errors"')) return result;
        const failed = failure(result.buffer);
        if (!failed) return result;
        const retryAfter = failed.retryAfter ?? (failed.status === 503 ? 1 : undefined);
        return { ...result, statusCode: failed.status, headers: { ...result.headers, ...(retryAfter !== undefined && { 'retry-after': String(retryAfter) }) } };
      },
    },
  },
};
