// What clients see when something fails. PostgreSQL errors are masked unless their
// SQLSTATE is on the allow-list below; those pass with a stable `code` and a message
// written for people (for check and unique constraints, the constraint's own
// `comment on constraint` text, so DBAs word them in the migration). Anything else
// is logged with an id and answered with that id only: no SQL, no internals.
import { randomUUID } from 'node:crypto';
import { isSafeError } from 'grafast';
import { GraphQLError } from 'grafast/graphql';
import type pg from 'pg';
import { DATABASE_UNAVAILABLE, isDatabaseUnavailable, type DatabaseGate } from '../http/database-gate.ts';
import { withoutHints } from '../limits/hints.ts';
import type { Logger } from '../logger.ts';

export type ConstraintMessages = Map<string, string>;

interface PgError {
  code: string;
  message: string;
  table?: string;
  constraint?: string;
}

function asPgError(error: unknown): PgError | undefined {
  const candidate = error as Partial<PgError> | undefined;
  return typeof candidate?.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code) && typeof candidate.message === 'string'
    ? (candidate as PgError)
    : undefined;
}

// Our own SQLSTATEs, raised by the SQL functions with a message written for people.
const raisedCodes: Record<string, string> = {
  TG401: 'UNAUTHENTICATED',
  TG403: 'FORBIDDEN',
  TG404: 'NOT_FOUND',
  TGR01: 'ROLE_NOT_ALLOWED',
  TGO01: 'LAST_OWNER',
  TGI01: 'INVITATION_NOT_FOUND',
  TGI02: 'INVITATION_REVOKED',
  TGI03: 'INVITATION_ALREADY_ANSWERED',
  TGI04: 'INVITATION_EXPIRED',
  TGI05: 'EMAIL_NOT_VERIFIED',
  TGI06: 'INVITATION_FOR_ANOTHER_EMAIL',
  TGI07: 'ALREADY_A_MEMBER',
};

// Data exceptions caused by the values a client sent (bad numbers, text, limits...).
const dataExceptions = new Set(['22001', '22003', '22007', '22008', '22021', '22P02', '22023', '2200D', '22P05', '2201W', '2201X']);

function describe(error: PgError, messages: ConstraintMessages): { code: string; message: string } | undefined {
  const documented = error.table && error.constraint ? messages.get(`${error.table}.${error.constraint}`) : undefined;
  switch (error.code) {
    case '23514':
      return { code: 'INVALID_VALUE', message: documented ?? 'A value breaks one of the rules for this field.' };
    case '23505':
      return { code: 'ALREADY_EXISTS', message: documented ?? 'Something with these values already exists.' };
    case '23503':
      return { code: 'INVALID_REFERENCE', message: 'A referenced record does not exist in this tenant.' };
    case '23502':
      return { code: 'INVALID_VALUE', message: 'A required value is missing.' };
    case '42501':
      return { code: 'FORBIDDEN', message: 'You are not allowed to do this here.' };
    case 'P0001':
      return { code: 'INVALID_INPUT', message: error.message };
  }
  const raised = raisedCodes[error.code];
  if (raised) return { code: raised, message: error.message };
  if (dataExceptions.has(error.code)) return { code: 'INVALID_VALUE', message: `Invalid value: ${error.message}.` };
  if (error.code === '57014') return { code: 'QUERY_TIMEOUT', message: 'The query took too long and was cancelled (limit STATEMENT_TIMEOUT_MS).' };
  return undefined;
}

export function createMaskError(logger: Logger, messages: ConstraintMessages, gate: Pick<DatabaseGate, 'report'>, { hints }: { hints: boolean }) {
  return (error: GraphQLError): GraphQLError => {
    const original = error.originalError;
    // Errors of the GraphQL layer itself (syntax, validation, coercion) are for the client,
    // without the schema's names in suggestions unless introspection is on anyway.
    if (!original || original instanceof GraphQLError) {
      // Variables that do not fit their types are refused like an invalid document.
      const code = error.extensions.code ?? (/^Variable "\$/.test(error.message) ? 'GRAPHQL_VALIDATION_FAILED' : undefined);
      if (code === error.extensions.code && (hints || !/Did you mean/.test(error.message))) return error;
      const message = hints ? error.message : withoutHints(error.message);
      return new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: original, extensions: { ...error.extensions, ...(code && { code }) } });
    }
    const rebuild = (message: string, extensions: Record<string, unknown>) =>
      new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: original, extensions });

    // Grafast's "safe" errors are about the request itself (say, a cursor that is not one).
    if (isSafeError(original)) return rebuild(original.message, { code: 'INVALID_INPUT', ...original.extensions });
    if (isDatabaseUnavailable(original)) {
      gate.report(original);
      return rebuild('The database is unavailable; retry shortly.', { code: DATABASE_UNAVAILABLE });
    }
    const pgError = asPgError(original);
    const described = pgError && describe(pgError, messages);
    if (described) return rebuild(described.message, { code: described.code, ...(pgError.constraint && { constraint: pgError.constraint }) });

    // @dataplan/pg's words when a delete matched no row the visitor may delete: another
    // tenant's id looks exactly like an id that does not exist.
    if (/^No values were (deleted|updated) in collection/.test(original.message)) {
      return rebuild('Nothing you may change has this id.', { code: 'NOT_FOUND' });
    }

    const errorId = randomUUID();
    logger.error({ errorId, err: original, path: error.path }, 'masked an unexpected error');
    return rebuild(`An unexpected error occurred (id ${errorId}).`, { code: 'INTERNAL_SERVER_ERROR', errorId });
  };
}

/** `comment on constraint` texts of check and unique constraints, keyed `table.constraint`. */
export async function loadConstraintMessages(pool: pg.Pool, schemas: string[]): Promise<ConstraintMessages> {
  const { rows } = await pool.query<{ key: string; message: string }>(
    `select c.relname || '.' || con.conname as key, obj_description(con.oid, 'pg_constraint') as message
     from pg_constraint con join pg_class c on c.oid = con.conrelid
     where c.relnamespace = any($1::regnamespace[]) and con.contype in ('c', 'u')
       and obj_description(con.oid, 'pg_constraint') is not null`,
    [schemas],
  );
  return new Map(rows.map((row) => [row.key, row.message]));
}
