// Every error code a client of this API can meet, in one place: where it comes from, the
// HTTP status it answers with when it ends a request before execution, and the default
// words. Everything that answers an error goes through here (the envelope checks, token
// verification, the database gate, the limits, the masking of database errors, the
// status of GraphQL responses), and a test checks that docs/errors.md's table lists exactly
// these codes.
//
// GraphQL over HTTP: an operation that was executed answers 200, whatever its errors
// (each error carries its code in `extensions.code`); a request refused before execution
// has no `data` and answers the status below.
import type { Response } from 'express';

export type ErrorOrigin =
  /** the HTTP request itself (body, media type, route) */
  | 'request'
  /** the bearer token, or the tenant chosen with it */
  | 'token'
  /** a limit on documents, costs, budgets or concurrency */
  | 'limit'
  /** a refusal from PostgreSQL, by SQLSTATE (RLS, constraints, our functions' RAISEs) */
  | 'database'
  /** the server or its dependencies */
  | 'server'
  /** a subscription over a websocket */
  | 'realtime';

export interface CatalogueEntry {
  /** The HTTP status when the error ends a request before execution. */
  status: number;
  origin: ErrorOrigin;
  /** The SQLSTATEs that become this code (origin `database`). */
  sqlstates?: readonly string[];
  /** Words for people when the raiser has none of its own. */
  message: string;
}

export const CATALOGUE = {
  // The request
  BAD_REQUEST: {
    status: 400,
    origin: 'request',
    message:
      'The request is not a GraphQL request: send JSON with a `query` string (or a trusted document id).',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    origin: 'request',
    message: 'The request body is too large (MAX_BODY_BYTES).',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    origin: 'request',
    message: 'Send GraphQL requests as application/json.',
  },
  ROUTE_NOT_FOUND: { status: 404, origin: 'request', message: 'No such route.' },
  GRAPHQL_PARSE_FAILED: { status: 400, origin: 'request', message: 'The query is not valid GraphQL.' },
  GRAPHQL_VALIDATION_FAILED: {
    status: 400,
    origin: 'request',
    message: 'The query or its variables do not fit the schema.',
  },
  INVALID_ID: {
    status: 400,
    origin: 'request',
    message: 'That is not an id of this API: ids are the `id` values it returns.',
  },
  TRUSTED_DOCUMENT_REQUIRED: {
    status: 400,
    origin: 'request',
    message: 'This server accepts only trusted documents: send the document id, not the query text.',
  },
  TRUSTED_DOCUMENT_NOT_FOUND: { status: 400, origin: 'request', message: 'No trusted document has this id.' },

  // The token
  UNAUTHENTICATED: {
    status: 401,
    origin: 'token',
    sqlstates: ['TG401'],
    message: 'Sign in: the request needs a valid bearer token.',
  },
  TOKEN_EXPIRED: { status: 401, origin: 'token', message: 'The token has expired.' },
  TOKEN_NOT_YET_VALID: { status: 401, origin: 'token', message: 'The token is not valid yet.' },
  INVALID_CLAIMS: { status: 401, origin: 'token', message: "The token's claims are not usable." },
  INVALID_API_KEY: { status: 401, origin: 'token', message: 'This API key is unknown, revoked or expired.' },
  INVALID_TENANT: {
    status: 400,
    origin: 'token',
    message: 'The X-Tenant header must be a tenant id or slug.',
  },
  AUTH_PROVIDER_UNAVAILABLE: {
    status: 503,
    origin: 'token',
    message: "The identity provider's keys cannot be fetched; retry shortly.",
  },

  // Limits
  QUERY_TOO_LARGE: {
    status: 400,
    origin: 'limit',
    message: 'The query has too many tokens (MAX_QUERY_TOKENS).',
  },
  QUERY_TOO_DEEP: {
    status: 400,
    origin: 'limit',
    message: 'The query is nested too deeply (MAX_QUERY_DEPTH).',
  },
  TOO_MANY_ALIASES: {
    status: 400,
    origin: 'limit',
    message: 'The query has too many aliases (MAX_QUERY_ALIASES).',
  },
  TOO_MANY_DIRECTIVES: {
    status: 400,
    origin: 'limit',
    message: 'The query has too many directives (MAX_QUERY_DIRECTIVES).',
  },
  INTROSPECTION_DISABLED: { status: 400, origin: 'limit', message: 'Introspection is off on this server.' },
  QUERY_TOO_COMPLEX: {
    status: 400,
    origin: 'limit',
    message: "The operation's requested cost is over MAX_QUERY_COST.",
  },
  PAGE_SIZE_TOO_LARGE: { status: 400, origin: 'limit', message: 'A page is larger than MAX_PAGE_SIZE.' },
  OFFSET_TOO_LARGE: { status: 400, origin: 'limit', message: 'An offset is larger than MAX_OFFSET.' },
  FILTER_LIST_TOO_LONG: {
    status: 400,
    origin: 'limit',
    message: 'A filter list (in, notIn and their Insensitive forms) has more than 100 values.',
  },
  TOO_MANY_GROUPS: {
    status: 400,
    origin: 'limit',
    message: 'groupedAggregates would return more than MAX_GROUPS groups.',
  },
  RESPONSE_TOO_LARGE: {
    status: 400,
    origin: 'limit',
    message: 'The response would be larger than MAX_RESPONSE_BYTES.',
  },
  RATE_LIMITED: {
    status: 429,
    origin: 'limit',
    message: 'The budget of cost points is spent; retry after Retry-After.',
  },
  CONCURRENCY_LIMITED: {
    status: 429,
    origin: 'limit',
    message: 'Too many operations of this tenant are running at once.',
  },

  // PostgreSQL's refusals, by SQLSTATE
  FORBIDDEN: {
    status: 403,
    origin: 'database',
    sqlstates: ['42501', 'TG403'],
    message: 'You are not allowed to do this here.',
  },
  NOT_FOUND: {
    status: 404,
    origin: 'database',
    sqlstates: ['TG404'],
    message: 'Nothing you may change has this id.',
  },
  INVALID_VALUE: {
    status: 400,
    origin: 'database',
    sqlstates: [
      '23514',
      '23502',
      '22001',
      '22003',
      '22007',
      '22008',
      '22021',
      '22P02',
      '22023',
      '2200D',
      '22P05',
      '2201W',
      '2201X',
    ],
    message: 'A value breaks one of the rules for this field.',
  },
  INVALID_INPUT: {
    status: 400,
    origin: 'database',
    sqlstates: ['P0001'],
    message: 'The input is not acceptable.',
  },
  INVALID_REFERENCE: {
    status: 400,
    origin: 'database',
    sqlstates: ['23503'],
    message: 'A referenced record does not exist in this tenant.',
  },
  ALREADY_EXISTS: {
    status: 409,
    origin: 'database',
    sqlstates: ['23505'],
    message: 'Something with these values already exists.',
  },
  ROLE_NOT_ALLOWED: {
    status: 403,
    origin: 'database',
    sqlstates: ['TGR01'],
    message: 'You may grant a role up to your own.',
  },
  LAST_OWNER: { status: 409, origin: 'database', sqlstates: ['TGO01'], message: 'A tenant needs an owner.' },
  INVITATION_NOT_FOUND: {
    status: 404,
    origin: 'database',
    sqlstates: ['TGI01'],
    message: 'No invitation has this secret.',
  },
  INVITATION_REVOKED: {
    status: 409,
    origin: 'database',
    sqlstates: ['TGI02'],
    message: 'This invitation was revoked.',
  },
  INVITATION_ALREADY_ANSWERED: {
    status: 409,
    origin: 'database',
    sqlstates: ['TGI03'],
    message: 'This invitation was already answered.',
  },
  INVITATION_EXPIRED: {
    status: 409,
    origin: 'database',
    sqlstates: ['TGI04'],
    message: 'This invitation has expired.',
  },
  EMAIL_NOT_VERIFIED: {
    status: 403,
    origin: 'database',
    sqlstates: ['TGI05'],
    message: 'Your sign-in has no verified email address.',
  },
  INVITATION_FOR_ANOTHER_EMAIL: {
    status: 403,
    origin: 'database',
    sqlstates: ['TGI06'],
    message: 'This invitation was sent to another email address.',
  },
  ALREADY_A_MEMBER: {
    status: 409,
    origin: 'database',
    sqlstates: ['TGI07'],
    message: 'You are already a member of this tenant.',
  },
  CONFIRMATION_MISMATCH: {
    status: 400,
    origin: 'database',
    sqlstates: ['TGD01'],
    message: "Type the tenant's slug to confirm its deletion.",
  },
  SOLE_OWNER: {
    status: 409,
    origin: 'database',
    sqlstates: ['TGO02'],
    message: 'You are the only owner of a tenant: hand it over or delete it first.',
  },
  QUERY_TIMEOUT: {
    status: 503,
    origin: 'database',
    sqlstates: ['57014'],
    message: 'The query took too long and was cancelled (STATEMENT_TIMEOUT_MS).',
  },

  // Tenant exports (GET /exports/:id)
  EXPORT_NOT_READY: {
    status: 409,
    origin: 'request',
    message: 'The export is still being written: poll tenantExports until its status is ready.',
  },
  EXPORT_GONE: {
    status: 410,
    origin: 'request',
    message: 'The export has expired or failed, and its file is gone: request a new one.',
  },

  // The server
  DATABASE_UNAVAILABLE: {
    status: 503,
    origin: 'server',
    message: 'The database is unavailable; retry shortly.',
  },
  DATABASE_BUSY: {
    status: 503,
    origin: 'server',
    message:
      "Every database connection this request could use was busy (the tenant's TENANT_CONNECTIONS, or the pool); retry after Retry-After.",
  },
  INTERNAL_SERVER_ERROR: { status: 500, origin: 'server', message: 'An unexpected error occurred.' },
  SCHEMA_REFUSED: {
    status: 503,
    origin: 'server',
    message:
      'Development: the schema guard refuses the database schema; see the server log (npm run db:guard).',
  },

  // Subscriptions (websockets): errors of a subscription, which the socket outlives
  TENANT_REQUIRED: {
    status: 403,
    origin: 'realtime',
    message:
      'Subscribe as a member of a tenant: a token whose tenant claim (or X-Tenant) names a tenant you belong to, or an API key.',
  },
  SUBSCRIPTION_LIMIT: {
    status: 429,
    origin: 'realtime',
    message: 'Too many open subscriptions on this connection or for this tenant.',
  },
  MEMBERSHIP_ENDED: {
    status: 403,
    origin: 'realtime',
    message: 'You are no longer a member of this tenant; the subscription has ended.',
  },
  SUBSCRIPTION_INTERRUPTED: {
    status: 503,
    origin: 'realtime',
    message: 'Changes may have been missed; refetch, then subscribe again.',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(CATALOGUE, code);
}

/** The code a SQLSTATE becomes, if it is one we pass on to clients. */
export const codeForSqlstate: ReadonlyMap<string, ErrorCode> = new Map(
  Object.entries(CATALOGUE).flatMap(([code, entry]) =>
    ((entry as CatalogueEntry).sqlstates ?? []).map((sqlstate) => [sqlstate, code as ErrorCode] as const),
  ),
);

/** The GraphQL-shaped body of an error answered outside GraphQL execution. */
export function errorBody(
  code: ErrorCode,
  message: string = CATALOGUE[code].message,
  extensions: Record<string, unknown> = {},
) {
  return { errors: [{ message, extensions: { code, ...extensions } }] };
}

/** Answers an Express request with an error of the catalogue: its status, its body, Retry-After where it says. */
export function sendError(
  res: Response,
  code: ErrorCode,
  message?: string,
  extensions: Record<string, unknown> = {},
): void {
  const retryAfter = extensions.retryAfter ?? (CATALOGUE[code].status === 503 ? 1 : undefined);
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
  // The outcome of the request for the metrics (src/observability/).
  res.locals.errorCodes = [code];
  res.status(CATALOGUE[code].status).json(errorBody(code, message, extensions));
}
