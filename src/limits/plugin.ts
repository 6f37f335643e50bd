// Resource isolation, inside PostGraphile rather than in front of it, so that every
// transport (HTTP, and websockets: src/realtime/websocket.ts) goes through the same checks:
//
// - grafserv's parse and validation is replaced by ours (validation.ts): one parse, one
//   validation, cached, with the document limits and their codes;
// - grafast's execute and subscribe are wrapped: the operation's requested cost (cost.ts) is checked
//   against MAX_QUERY_COST, taken from the caller's budget (budget.ts) before it runs,
//   run inside the caller's bulkhead (bulkhead.ts), and the unspent part is given back
//   after, down to the database time it measurably used (work-pricing.ts), which is
//   charged even beyond the reservation. Every result carries `extensions.cost`, as
//   Shopify's Admin API does, with `databaseMs` beside the points.
//
// The caller is the verified tenant (verified-tenant.ts), else the signed-in user, else
// the client's IP: a token naming a tenant its user does not belong to is charged to
// the user and never touches that tenant's budget.
import { isAsyncIterable, isPromiseLike } from 'grafast';
import { getOperationAST, getVariableValues, GraphQLError, type GraphQLSchema } from 'grafast/graphql';
import type { Identity } from '../auth/claims.ts';
import { attachWork, DatabaseBusy, isDatabaseBusy, type OperationWork } from '../request/work.ts';
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.ts';
import { isDatabaseUnavailable } from '../http/database-gate.ts';
import type { Budget, ThrottleStatus } from './budget.ts';
import { BulkheadFull, type Bulkhead } from './bulkhead.ts';
import { createChargedKey } from './charged-key.ts';
import {
  actualCost,
  OPERATION_COST,
  PageLimitError,
  requestedCost,
  type Estimate,
  type OperationInput,
  type PageLimits,
} from './cost.ts';
import { badIdVariable, invalidIdMessage } from './global-ids.ts';
import { createHoldBack } from './hold-back.ts';
import { createTableRowCounts } from './table-rows.ts';
import { approximateJsonBytes } from './response-size.ts';
import { createParseAndValidate, type DocumentLimits, type ParseAndValidate } from './validation.ts';
import type { VerifyTenant } from './verified-tenant.ts';
import {
  meterSubscription,
  pointsForWork,
  reportedMs,
  statementTimeoutFor,
  type WorkPricing,
} from './work-pricing.ts';
import { version } from '../version.ts';
import { tenantgraphOptions, type TenantgraphOptions } from '../options.ts';

/** What one request used, for the request log. */
export interface Usage {
  /** The tenant the request was charged to: verified membership only. */
  tenantId?: string;
  operationName?: string;
  requestedCost?: number;
  actualCost?: number;
}

declare global {
  namespace Tenantgraph {
    /**
     * What one operation may be, checked here: the `limits` of the tenantgraph options
     * (src/options.ts), from MAX_QUERY_* and INTROSPECTION (src/config.ts). A new limit is
     * declared here and set there.
     */
    interface OperationLimits extends DocumentLimits {
      /** Largest cost one operation may request (MAX_QUERY_COST). */
      maxQueryCost: number;
      /** Largest response body (MAX_RESPONSE_BYTES). */
      maxResponseBytes: number;
    }
  }
  namespace Grafast {
    interface Context {
      /** The verified token's identity; null for an anonymous request. */
      identity?: Identity | null;
      /** Who is charged when there is no identity. */
      clientIp?: string | undefined;
      /** Filled in as the operation is charged. */
      usage?: Usage;
    }
  }
}

/** What the limits act on, from the preset's options and the server's services. */
interface LimitsOptions {
  limits: Tenantgraph.OperationLimits;
  pages: PageLimits;
  /** null: no budgets. */
  budget: Budget | null;
  bulkhead: Bulkhead;
  verifyTenant: VerifyTenant;
  /** How long a throttled answer (429) is held back, at most; 0: answered at once (hold-back.ts). */
  throttleDelayMs: number;
  /** Database time in points, and statement timeouts by price (work-pricing.ts). */
  pricing: WorkPricing;
}

interface CostExtension {
  requestedQueryCost?: number;
  actualQueryCost: number;
  /** Milliseconds the operation's transactions held database connections, to 0.1 ms. */
  databaseMs?: number;
  throttleStatus?: ThrottleStatus;
}

type Result = {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLError[];
  extensions?: Record<string, unknown>;
};

function refusal(
  code: ErrorCode,
  message: string,
  cost: CostExtension,
  extensions: Record<string, unknown> = {},
): Result {
  return {
    errors: [new GraphQLError(message, { extensions: { code, ...extensions } })],
    extensions: { cost },
  };
}

/**
 * 503 for a request that got no database connection: none free in time (DATABASE_BUSY,
 * src/request/work.ts), or the database away (DATABASE_UNAVAILABLE). Undefined for any
 * other error.
 */
function noConnection(error: unknown, cost: CostExtension): Result | undefined {
  if (isDatabaseBusy(error)) {
    const why = error instanceof DatabaseBusy ? error.message : 'Every database connection stayed busy.';
    return refusal('DATABASE_BUSY', `${why} Retry in 1 s.`, cost, { retryAfter: 1 });
  }
  if (isDatabaseUnavailable(error))
    return refusal('DATABASE_UNAVAILABLE', CATALOGUE.DATABASE_UNAVAILABLE.message, cost, { retryAfter: 1 });
  return undefined;
}

/** 429: the caller's bucket does not hold `needed` points yet. */
function throttled(status: ThrottleStatus, needed: number, requested?: number): [Result, number] {
  const retryAfter = Math.max(1, Math.ceil((needed - status.currentlyAvailable) / status.restoreRate));
  const result = refusal(
    'RATE_LIMITED',
    `This operation needs ${needed} cost points and ${status.currentlyAvailable} of ${status.maximumAvailable} are available; retry in ${retryAfter} s.`,
    {
      ...(requested !== undefined && { requestedQueryCost: requested }),
      actualQueryCost: 0,
      throttleStatus: status,
    },
    { retryAfter },
  );
  return [result, retryAfter];
}

/** The preset's limits, pages, pricing and services as the plugin uses them. */
function limitsOptionsOf(preset: GraphileConfig.ResolvedPreset): LimitsOptions {
  const options = tenantgraphOptions(preset);
  const pages = preset.schema?.tenantgraphPages;
  if (!options.services || !pages)
    throw new Error(
      'LimitsPlugin: the preset has no services or page sizes (src/server/install-graphql.ts adds them)',
    );
  const { budget, bulkhead, verifyTenant } = options.services;
  return {
    limits: options.limits,
    pages,
    budget,
    bulkhead,
    verifyTenant,
    throttleDelayMs: options.throttleDelayMs,
    pricing: {
      pointsPerDatabaseMs: options.work.pointsPerDatabaseMs,
      maxStatementMs: options.timeouts.statementMs,
      minStatementMs: Math.min(options.work.minStatementMs, options.timeouts.statementMs),
    },
  };
}

/** One limiter per server: its hold-back queue, row counts and validators are its own. */
const limiters = new WeakMap<TenantgraphOptions, Limiter>();

function limiterFor(preset: GraphileConfig.ResolvedPreset): Limiter {
  const key = tenantgraphOptions(preset);
  let limiter = limiters.get(key);
  if (!limiter) limiters.set(key, (limiter = createLimiter(limitsOptionsOf(preset))));
  return limiter;
}

interface Limiter {
  parseAndValidateFor(schema: GraphQLSchema): ParseAndValidate;
  limitedExecute(next: () => unknown, args: Grafast.ExecutionArgs): Promise<unknown>;
}

function createLimiter(options: LimitsOptions): Limiter {
  const { limits, pages, budget, bulkhead, verifyTenant, throttleDelayMs, pricing } = options;
  const holdBack = createHoldBack(throttleDelayMs);
  const tableRowCounts = createTableRowCounts();

  const validators = new WeakMap<GraphQLSchema, ParseAndValidate>();
  const parseAndValidateFor = (schema: GraphQLSchema) => {
    let parseAndValidate = validators.get(schema);
    if (!parseAndValidate)
      validators.set(schema, (parseAndValidate = createParseAndValidate(schema, limits)));
    return parseAndValidate;
  };

  const keyOf = createChargedKey(verifyTenant);
  async function chargedKey(context: Grafast.Context): Promise<string> {
    const { key, tenantId } = await keyOf(context.identity, context.clientIp);
    if (tenantId && context.usage) context.usage.tenantId = tenantId;
    return key;
  }

  /**
   * A refusal before execution still costs the operation's base, since refusing is work
   * too: a client that keeps sending what is refused runs out of budget like any other.
   */
  async function refuse(key: string, code: ErrorCode, message: string, requested?: number): Promise<Result> {
    const charged = await budget?.take(key, OPERATION_COST);
    if (charged && !charged.taken) return holdBack(...throttled(charged.status, OPERATION_COST, requested));
    const cost = {
      ...(requested !== undefined && { requestedQueryCost: requested }),
      actualQueryCost: OPERATION_COST,
      ...(charged && { throttleStatus: charged.status }),
    };
    return refusal(code, message, cost);
  }

  async function limitedExecute(next: () => unknown, args: Grafast.ExecutionArgs): Promise<unknown> {
    const context = args.contextValue;
    const operation = getOperationAST(args.document, args.operationName);
    if (context.usage && operation?.name) context.usage.operationName = operation.name.value;
    const coerced =
      operation &&
      getVariableValues(
        args.schema,
        operation.variableDefinitions ?? [],
        (args.variableValues ?? {}) as Record<string, unknown>,
      );
    // Variables that do not fit their types: execution refuses them precisely, running nothing.
    if (!coerced || coerced.errors) return next();
    let key: string;
    try {
      key = await chargedKey(context);
    } catch (error) {
      // The membership look-up found no connection: nobody to charge yet, and nothing ran.
      const refused = noConnection(error, { actualQueryCost: 0 });
      if (refused) return refused;
      throw error;
    }
    // Where the adaptor takes this operation's connections (within the key's share) and adds up their time.
    const work: OperationWork = { key, databaseMs: 0 };
    const { pgSettings } = context as { pgSettings?: Record<string, string> };
    if (pgSettings) attachWork(pgSettings, work);
    const input: OperationInput = {
      schema: args.schema,
      document: args.document,
      operationName: args.operationName,
      variables: coerced.coerced,
    };

    const badId = badIdVariable(
      args.schema,
      args.document,
      (args.variableValues ?? {}) as Record<string, unknown>,
    );
    if (badId !== undefined) return refuse(key, 'INVALID_ID', invalidIdMessage(badId));
    let requested: number;
    let estimate: Estimate;
    try {
      estimate = await requestedCost(input, pages, tableRowCounts.forRequest(key, context));
      requested = estimate.cost;
    } catch (error) {
      if (error instanceof PageLimitError) return refuse(key, error.code, error.message);
      throw error;
    }
    if (context.usage) context.usage.requestedCost = requested;
    if (requested > limits.maxQueryCost) {
      return refuse(
        key,
        'QUERY_TOO_COMPLEX',
        `The query's requested cost is ${requested}, over the limit of ${limits.maxQueryCost} per operation (MAX_QUERY_COST); ask for smaller pages.`,
        requested,
      );
    }

    let throttleStatus: ThrottleStatus | undefined;
    if (budget) {
      const { taken, status } = await budget.take(key, requested);
      if (!taken) return holdBack(...throttled(status, requested, requested));
      throttleStatus = status;
      if (pgSettings)
        pgSettings.statement_timeout = String(
          statementTimeoutFor(pricing, requested, status.currentlyAvailable),
        );
    }

    let leave: () => void;
    try {
      leave = await bulkhead.enter(key);
    } catch (error) {
      if (!(error instanceof BulkheadFull)) throw error;
      if (budget) throttleStatus = await budget.refund(key, requested);
      const busy = refusal(
        'CONCURRENCY_LIMITED',
        'Too many operations of this tenant are running at once; retry in 1 s.',
        { requestedQueryCost: requested, actualQueryCost: 0, ...(throttleStatus && { throttleStatus }) },
        { retryAfter: 1 },
      );
      return holdBack(busy, 1);
    }
    let result: Result;
    try {
      result = (await next()) as Result;
    } finally {
      leave();
    }
    // A subscription keeps its reservation, and each event pays for its own re-read.
    if (isAsyncIterable(result))
      return meterSubscription(result as AsyncIterable<Result>, work, pricing, budget?.charge.bind(budget));

    // The rows read were read, whatever came back: the refund stops at the work's price,
    // and at the database time the operation measurably used.
    const { databaseMs } = work;
    const actual = Math.max(
      actualCost(input, pages, result.data, estimate.work),
      pointsForWork(databaseMs, pricing),
    );
    if (context.usage) context.usage.actualCost = actual;
    if (budget && actual < requested) throttleStatus = await budget.refund(key, requested - actual);
    if (budget && actual > requested) throttleStatus = await budget.charge(key, actual - requested);
    const cost: CostExtension = {
      requestedQueryCost: requested,
      actualQueryCost: actual,
      databaseMs: reportedMs(databaseMs),
      ...(throttleStatus && { throttleStatus }),
    };
    // A statement that found no free connection fails the whole request, as one refusal with Retry-After.
    const busy = result.errors?.find((error) => isDatabaseBusy(error.originalError));
    if (busy) return noConnection(busy.originalError, cost)!;
    if (approximateJsonBytes(result.data) > limits.maxResponseBytes) {
      return refusal(
        'RESPONSE_TOO_LARGE',
        `The response would be larger than ${limits.maxResponseBytes} bytes (MAX_RESPONSE_BYTES); ask for fewer rows or fields.`,
        cost,
      );
    }
    return { ...result, extensions: { ...result.extensions, cost } };
  }

  return { parseAndValidateFor, limitedExecute };
}

export const LimitsPlugin: GraphileConfig.Plugin = {
  name: 'LimitsPlugin',
  version,
  grafserv: {
    middleware: {
      setPreset(next, event) {
        const { parseAndValidateFor } = limiterFor(event.resolvedPreset);
        const inner = event.getExecutionConfig;
        event.getExecutionConfig = function (this: unknown, requestContext) {
          const config = inner.call(this as never, requestContext);
          const ours = (value: Awaited<typeof config>) => ({
            ...value,
            parseAndValidate: parseAndValidateFor(value.schema),
          });
          return isPromiseLike(config) ? Promise.resolve(config).then(ours) : ours(config);
        };
        return next();
      },
    },
  },
  grafast: {
    middleware: {
      execute(next, { args }) {
        return limiterFor(args.resolvedPreset!).limitedExecute(
          next,
          args as Grafast.ExecutionArgs,
        ) as ReturnType<typeof next>;
      },
      subscribe(next, { args }) {
        return limiterFor(args.resolvedPreset!).limitedExecute(
          next,
          args as Grafast.ExecutionArgs,
        ) as ReturnType<typeof next>;
      },
    },
  },
};
