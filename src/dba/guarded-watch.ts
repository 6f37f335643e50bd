// Watch mode that will not serve what the schema guard refuses (development only).
//
// PostGraphile's watch mode (`postgraphile()` with `grafserv.watch`) rebuilds the GraphQL
// schema after DDL, through graphile-build's watchSchema, and hands each new schema to
// grafserv with `serv.setPreset(…)` then `serv.setSchema(schema)`. grafserv has no hook for
// schemas (its middleware sees presets and requests), so this wraps the instance's
// setSchema: the guard runs first, and a rebuilt schema reaches grafserv only when no
// error-level finding is left; otherwise the last schema the guard accepted stays in
// service and the findings are logged. The constraint messages clients see
// (`comment on constraint`) are reloaded with each accepted schema.
//
// Keeping the old schema does not help when the problem is in something it already serves
// (`alter table products disable row level security`, a `using (true)` policy on
// products): the database changed under it. Then the GraphQL endpoint answers 503
// SCHEMA_REFUSED until the guard passes again. PostGraphile's event trigger does not fire
// for CREATE/ALTER POLICY (a policy has no schema, and its trigger keeps only commands that
// have one) nor for role changes, so the guard also runs every few seconds.
import type { NextFunction, Request, Response } from 'express';
import type { GraphQLSchema } from 'grafast/graphql';
import type pg from 'pg';
import type { RequestRoles } from '../auth/claims.ts';
import { sendError } from '../errors/catalogue.ts';
import type { Logger } from '../logger.ts';
import { loadConstraintMessages, type ConstraintMessages } from '../plugins/mask-errors.ts';
import { EXPOSED_SCHEMAS } from '../plugins/preset.ts';
import { loginRoleOf } from '../database/bootstrap.ts';
import { formatFinding, guardOptions, loadWaivers, runGuard, type Finding } from './schema-guard.ts';

export interface GuardedWatchOptions {
  /** The API's pool (the authenticator): the catalogue is readable by any role. */
  pool: pg.Pool;
  authenticatorUrl: string;
  roles: RequestRoles;
  /** The map the error masking reads; refilled in place with each accepted schema. */
  constraintMessages: ConstraintMessages;
  logger: Logger;
  /** How often the guard runs between rebuilds. */
  recheckMs?: number;
}

export interface GuardedWatch {
  /** Express middleware for the GraphQL path: 503 while a refused finding touches what is served. */
  middleware: (req: Request, res: Response, next: NextFunction) => void;
}

interface Check {
  errors: Finding[];
  warnings: Finding[];
  /** Tables, views and functions of the guarded schemas at the time of the check. */
  objects: Set<string>;
}

/** The relation or function a finding is about; '*' for roles and schemas, which touch everything. */
function targetOf(finding: Finding): string | null {
  const match = /^(?:policy \S+ on |table |view |materialized view |sequence |function )(.+)$/.exec(
    finding.object,
  );
  if (match) return match[1]!;
  return /^(role|schema) /.test(finding.object) ? '*' : null;
}

const keysOf = (findings: Finding[]) =>
  findings.map((finding) => `${finding.rule} ${finding.object}`).join('\n');

export function guardWatchMode(
  serv: { setSchema(schema: GraphQLSchema): void },
  options: GuardedWatchOptions,
): GuardedWatch {
  const { pool, logger } = options;
  const guard = async (): Promise<Check> => {
    const client = await pool.connect();
    try {
      const verdict = await runGuard(
        client,
        guardOptions(
          { authenticator: loginRoleOf(options.authenticatorUrl), ...options.roles },
          undefined,
          await loadWaivers(),
        ),
      );
      const { rows } = await client.query<{ name: string }>(
        `select c.oid::regclass::text as name from pg_class c where c.relnamespace = any($1::regnamespace[])
         union all select p.oid::regprocedure::text from pg_proc p where p.pronamespace = any($1::regnamespace[])`,
        [['app_public', 'app_private']],
      );
      return {
        errors: verdict.problems.filter((finding) => finding.level === 'error'),
        warnings: verdict.problems.filter((finding) => finding.level === 'warn'),
        objects: new Set(rows.map((row) => row.name)),
      };
    } finally {
      client.release();
    }
  };

  const setSchema = serv.setSchema.bind(serv);
  // What the last accepted schema can reach; the rebuilt schema the guard last refused; the
  // refused findings that touch what is served; what was last logged, so a recheck that
  // finds the same is quiet.
  let served = new Set<string>();
  let refusedSchema: GraphQLSchema | null = null;
  let blocking: Finding[] = [];
  let reported = '';
  let queued = 0;
  let pending: Promise<void> = Promise.resolve();

  const accept = async (check: Check, schema: GraphQLSchema | null) => {
    const messages = await loadConstraintMessages(pool, EXPOSED_SCHEMAS);
    options.constraintMessages.clear();
    for (const [key, message] of messages) options.constraintMessages.set(key, message);
    served = check.objects;
    blocking = [];
    refusedSchema = null;
    if (schema) {
      setSchema(schema);
      logger.info('watch mode: the schema guard accepts the rebuilt schema; serving it');
    }
  };

  /** `schema`: a rebuild to judge; null: the schema in service (at start, and every few seconds). */
  const decide = async (ticket: number, schema: GraphQLSchema | null, initial = false) => {
    if (schema && ticket !== queued) return; // a newer rebuild is queued and will be judged instead
    let check: Check;
    try {
      check = await guard();
    } catch (error) {
      // Fail closed: without a verdict no new schema is served.
      if (!pool.ending)
        logger.error(
          { err: error },
          'watch mode: the schema guard could not run; keeping the last accepted schema',
        );
      return;
    }
    if (initial) served = check.objects;
    const findings = keysOf([...check.errors, ...check.warnings]);
    if (schema || findings !== reported)
      for (const finding of [...check.errors, ...check.warnings])
        (finding.level === 'error' ? logger.error : logger.warn).call(logger, formatFinding(finding));
    if (check.errors.length === 0) {
      if (schema || initial) await accept(check, schema);
      else if (blocking.length > 0 || refusedSchema) {
        logger.info('watch mode: the schema guard has nothing left to refuse; serving again');
        await accept(check, refusedSchema);
      }
      reported = findings;
      return;
    }
    if (schema) refusedSchema = schema;
    blocking = check.errors.filter((finding) => {
      const target = targetOf(finding);
      return target === '*' || (target !== null && served.has(target));
    });
    if (schema || findings !== reported) {
      logger.error(
        blocking.length
          ? 'watch mode: the schema guard refuses something the API already serves; GraphQL answers 503 SCHEMA_REFUSED until it is fixed (npm run db:guard)'
          : 'watch mode: the schema guard refuses the rebuilt schema; still serving the last one it accepted (npm run db:guard)',
      );
    }
    reported = findings;
  };

  const enqueue = (schema: GraphQLSchema | null, initial = false) => {
    const ticket = schema ? ++queued : queued;
    pending = pending
      .then(() => decide(ticket, schema, initial))
      .catch((error: unknown) =>
        logger.error(
          { err: error },
          'watch mode: judging the schema failed; keeping the last accepted schema',
        ),
      );
    return pending;
  };
  serv.setSchema = (schema) => void enqueue(schema);
  // Requests wait for the first verdict only; later ones apply as soon as they are reached.
  const first = enqueue(null, true);
  const recheck = setInterval(() => {
    if (pool.ending) clearInterval(recheck);
    else void enqueue(null);
  }, options.recheckMs ?? 2_000);
  recheck.unref();

  return {
    middleware(_req, res, next) {
      first.then(() => {
        if (blocking.length === 0) return next();
        sendError(
          res,
          'SCHEMA_REFUSED',
          `The schema guard refuses: ${blocking.map((finding) => `${finding.rule} ${finding.object}`).join('; ')}. See the server log or npm run db:guard.`,
        );
      }, next);
    },
  };
}
