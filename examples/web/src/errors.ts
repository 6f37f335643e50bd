// The API's errors, told apart by `extensions.code` (docs/errors.md and docs/limits.md), in
// words a user can act on. The server's own message follows as the detail.
import type { CombinedError } from '@urql/core';

export interface Problem {
  code: string;
  summary: string;
  detail: string;
  /** Seconds to wait before trying again (429s). */
  retryAfter?: number | undefined;
}

const SUMMARIES: Record<string, string> = {
  FORBIDDEN: 'Your role in this tenant does not allow this.',
  INVALID_VALUE: 'A value was not accepted.',
  INVALID_INPUT: 'The input was not accepted.',
  INVALID_REFERENCE: 'That refers to something that does not exist in this tenant.',
  INVALID_ID: 'That id is not one of this API.',
  ALREADY_EXISTS: 'That already exists.',
  NOT_FOUND: 'Not found.',
  UNAUTHENTICATED: 'You are not signed in, or your token is not valid: sign in again.',
  TOKEN_EXPIRED: 'Your session has expired: sign in again.',
  INVALID_TENANT: 'That is not a tenant id or slug.',
  RATE_LIMITED: "This tenant's request budget is spent for the moment.",
  CONCURRENCY_LIMITED: 'Too many requests of this tenant are running at once.',
  QUERY_TIMEOUT: 'The database took too long to answer.',
  DATABASE_UNAVAILABLE: 'The database is unavailable right now.',
  DATABASE_BUSY: 'The database is busy right now; try again in a moment.',
  NETWORK_ERROR: 'The API could not be reached.',
  INVITATION_NOT_FOUND: 'This invitation link does not work: use the link of the newest invitation mail.',
  INVITATION_FOR_ANOTHER_EMAIL:
    'This invitation is for another address: sign in as the person it was sent to.',
  EMAIL_NOT_VERIFIED: 'Your sign-in has no verified email address.',
  INVITATION_REVOKED: 'This invitation was withdrawn.',
  INVITATION_ALREADY_ANSWERED: 'This invitation was already answered.',
  INVITATION_EXPIRED: 'This invitation has expired: ask for a new one.',
  ALREADY_A_MEMBER: 'You are already a member of this tenant.',
};

export function problemsOf(error: CombinedError): Problem[] {
  const header = Number(error.response?.headers?.get('retry-after')) || undefined;
  if (error.graphQLErrors.length === 0) {
    return [
      {
        code: 'NETWORK_ERROR',
        summary: SUMMARIES.NETWORK_ERROR!,
        detail: error.networkError?.message ?? error.message,
      },
    ];
  }
  return error.graphQLErrors.map(({ message, extensions }) => {
    const code = typeof extensions.code === 'string' ? extensions.code : 'ERROR';
    const retryAfter = typeof extensions.retryAfter === 'number' ? extensions.retryAfter : header;
    return {
      code,
      summary: SUMMARIES[code] ?? 'The request failed.',
      detail: message,
      retryAfter: code.endsWith('_LIMITED') ? retryAfter : undefined,
    };
  });
}
