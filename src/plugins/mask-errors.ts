// What clients see when something fails. PostgreSQL errors are masked unless the error
// catalogue (src/errors/catalogue.ts) lists their SQLSTATE; those pass with a stable `code` and a message
// written for people (for check and unique constraints, the constraint's own
// `comment on constraint` text, so DBAs word them in the migration). Anything else
// is logged with an id and answered with that id only: no SQL, no internals.
import { randomUUID } from 'node:crypto';
import { isSafeError } from 'grafast';
import { GraphQLError } from 'grafast/graphql';
import type pg from 'pg';
import { CATALOGUE, codeForSqlstate, type ErrorCode } from '../errors/catalogue.ts';
import { isDatabaseBusy } from '../request/work.ts';
import { isDatabaseUnavailable, type DatabaseGate } from '../http/database-gate.ts';
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
  return typeof candidate?.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(candidate.code) &&
    typeof candidate.message === 'string'
    ? (candidate as PgError)
    : undefined;
}

/** The code and words for a PostgreSQL error we pass on (the catalogue says which SQLSTATEs). */
function describe(
  error: PgError,
  messages: ConstraintMessages,
): { code: ErrorCode; message: string } | undefined {
  const code = codeForSqlstate.get(error.code);
  if (!code) return undefined;
  const documented =
    error.table && error.constraint ? messages.get(`${error.table}.${error.constraint}`) : undefined;
  switch (error.code) {
    // Check and unique constraints speak in their own `comment on constraint` words.
    case '23514':
    case '23505':
      return { code, message: documented ?? CATALOGUE[code].message };
    case '23502':
      return { code, message: 'A required value is missing.' };
  }
  // Our functions' RAISEs are written for people; so are PostgreSQL's data exceptions.
  if (/^(TG|P0)/.test(error.code)) return { code, message: error.message };
  if (error.code.startsWith('22')) return { code, message: `Invalid value: ${error.message}.` };
  return { code, message: CATALOGUE[code].message };
}

export function createMaskError(
  logger: Logger,
  messages: ConstraintMessages,
  gate: Pick<DatabaseGate, 'report'>,
  { hints }: { hints: boolean },
) {
  return (error: GraphQLError): GraphQLError => {
    const original = error.originalError;
    // Errors of the GraphQL layer itself (syntax, validation, coercion) are for the client,
    // without the schema's names in suggestions unless introspection is on anyway.
    if (!original || original instanceof GraphQLError) {
      // Variables that do not fit their types are refused like an invalid document.
      const code =
        error.extensions.code ??
        (/^Variable "\$/.test(error.message) ? 'GRAPHQL_VALIDATION_FAILED' : undefined);
      if (code === error.extensions.code && (hints || !/Did you mean/.test(error.message))) return error;
      const message = hints ? error.message : withoutHints(error.message);
      return new GraphQLError(message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: original,
        extensions: { ...error.extensions, ...(code && { code }) },
      });
    }
    const rebuild = (message: string, extensions: Record<string, unknown>) =>
      new GraphQLError(message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: original,
        extensions,
      });

    // Grafast's "safe" errors are about the request itself (say, a cursor that is not one).
    if (isSafeError(original))
      return rebuild(original.message, { code: 'INVALID_INPUT', ...original.extensions });
    // No connection free in time: this request fails, the gate stays open (database-gate.ts),
    // unless a connection of the gate's own cannot reach the server either.
    if (isDatabaseBusy(original)) {
      if (original instanceof Error && original.cause) gate.report(original.cause);
      return rebuild(CATALOGUE.DATABASE_BUSY.message, { code: 'DATABASE_BUSY', retryAfter: 1 });
    }
    if (isDatabaseUnavailable(original)) {
      gate.report(original);
      return rebuild(CATALOGUE.DATABASE_UNAVAILABLE.message, { code: 'DATABASE_UNAVAILABLE' });
    }
    const pgError = asPgError(original);
    const described = pgError && describe(pgError, messages);
    if (described)
      return rebuild(described.message, {
        code: described.code,
        ...(pgError.constraint && { constraint: pgError.constraint }),
      });

    // @dataplan/pg's words when a delete matched no row the visitor may delete: another
    // tenant's id looks exactly like an id that does not exist.
    if (/^No values were (deleted|updated) in collection/.test(original.message)) {
      return rebuild(CATALOGUE.NOT_FOUND.message, { code: 'NOT_FOUND' });
    }

    const errorId = randomUUID();
    logger.error({ errorId, err: original, path: error.path }, 'masked an unexpected error');
    return rebuild(`An unexpected error occurred (id ${errorId}).`, {
      code: 'INTERNAL_SERVER_ERROR',
      errorId,
    });
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
