// Refuses GraphQL requests that are too big or too expensive before they are executed
// (OWASP API4, unrestricted resource consumption). Every refusal is a 4xx with a
// GraphQL-shaped body whose code names the limit:
//
//   413 PAYLOAD_TOO_LARGE       body over maxBodyBytes
//   415 UNSUPPORTED_MEDIA_TYPE  a POST that is not application/json
//   400 BAD_REQUEST             not JSON, no query, a batch (arrays are not accepted)
//   400 QUERY_TOO_LARGE         more than maxTokens tokens
//   400 QUERY_TOO_DEEP          selections nested deeper than maxDepth
//   400 TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES
//   400 QUERY_TOO_COMPLEX       estimated cost over maxComplexity; a connection costs its
//                               children times `first`/`last` (defaultListSize if unset)
//   400 INTROSPECTION_DISABLED  __schema/__type when introspection is off
//   400 INVALID_ID              an ID argument or variable that is not a global id
//   400 GRAPHQL_VALIDATION_FAILED  an invalid query; without introspection, the
//                               "Did you mean …?" hints are left out (they map the schema)
//
// Static verdicts are cached by query text; only the cost, which depends on variables,
// is computed per request.
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  getNamedType,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLSchema,
  type ValidationRule,
} from 'grafast/graphql';
import { LRUCache } from 'lru-cache';
import { badIdLiteral, badIdVariable } from './global-ids.ts';
import { getComplexity, maxAliasesRule, maxDepthRule, maxDirectivesRule, simpleEstimator } from './graphql-rules.ts';

export interface RequestLimits {
  maxBodyBytes: number;
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxComplexity: number;
  defaultListSize: number;
  introspection: boolean;
}

class Refusal {
  readonly status: number;
  readonly code: string;
  readonly messages: string[];
  constructor(status: number, code: string, ...messages: string[]) {
    this.status = status;
    this.code = code;
    this.messages = messages;
  }
}

function send(res: Response, refusal: Refusal): void {
  res.status(refusal.status).json({ errors: refusal.messages.map((message) => ({ message, extensions: { code: refusal.code } })) });
}

function invalidId(value: string): Refusal {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return new Refusal(400, 'INVALID_ID', `"${shown}" is not an id of this API: ids are the \`id\` values it returns.`);
}

// graphql-armor's rules throw their GraphQLError instead of reporting it.
function firstError(schema: GraphQLSchema, document: DocumentNode, rule: ValidationRule): string | undefined {
  try {
    return validate(schema, document, [rule])[0]?.message;
  } catch (error) {
    if (error instanceof GraphQLError) return error.message.replace(/^Syntax Error: /, '');
    throw error;
  }
}

type Verdict = { document: DocumentNode } | { refusal: Refusal };

export function requestLimits(getSchema: () => GraphQLSchema | PromiseLike<GraphQLSchema>, limits: RequestLimits) {
  const staticRules: Array<[string, ValidationRule]> = [
    ['QUERY_TOO_DEEP', maxDepthRule({ n: limits.maxDepth, exposeLimits: true })],
    ['TOO_MANY_ALIASES', maxAliasesRule({ n: limits.maxAliases, exposeLimits: true })],
    ['TOO_MANY_DIRECTIVES', maxDirectivesRule({ n: limits.maxDirectives, exposeLimits: true })],
  ];
  if (!limits.introspection) staticRules.push(['INTROSPECTION_DISABLED', NoSchemaIntrospectionCustomRule]);
  const verdicts = new LRUCache<string, Verdict>({ max: 500 });
  let verdictsSchema: GraphQLSchema | undefined;

  function judge(query: string, schema: GraphQLSchema): Verdict {
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: limits.maxTokens, noLocation: true });
    } catch (error) {
      const message = (error as GraphQLError).message;
      return /tokens/.test(message)
        ? { refusal: new Refusal(400, 'QUERY_TOO_LARGE', `The query has more than ${limits.maxTokens} tokens (limit maxTokens).`) }
        : { refusal: new Refusal(400, 'GRAPHQL_PARSE_FAILED', message) };
    }
    for (const [code, rule] of staticRules) {
      const message = firstError(schema, document, rule);
      if (message) return { refusal: new Refusal(400, code, message) };
    }
    const errors = validate(schema, document);
    if (errors.length > 0) {
      const messages = errors.map((error) => (limits.introspection ? error.message : error.message.replace(/ ?Did you mean .+\?$/, '')));
      return { refusal: new Refusal(400, 'GRAPHQL_VALIDATION_FAILED', ...messages) };
    }
    const badId = badIdLiteral(schema, document);
    if (badId !== undefined) return { refusal: invalidId(badId) };
    return { document };
  }

  // A connection multiplies the cost of the rows it returns (nodes, edges) by its page
  // size; totalCount, aggregates and pageInfo are computed once, whatever the size.
  const pageSizeEstimator = ({ args, field, node, childComplexity }: { args: Record<string, unknown>; field: GraphQLField<unknown, unknown>; node: FieldNode; childComplexity: number }) => {
    if (!getNamedType(field.type).name.endsWith('Connection')) return undefined;
    const returnsRows = node.selectionSet?.selections.some(
      (selection) => selection.kind !== Kind.FIELD || selection.name.value === 'nodes' || selection.name.value === 'edges',
    );
    if (!returnsRows) return 1 + childComplexity;
    const size = [args.first, args.last].find((value): value is number => typeof value === 'number');
    return 1 + (size ?? limits.defaultListSize) * childComplexity;
  };

  const parseJson = express.json({ limit: limits.maxBodyBytes, strict: true, type: () => true });

  /** The refusal for a parsed body, or undefined when it may go on to execution. */
  async function check(body: unknown, res: Response): Promise<Refusal | undefined> {
    if (Array.isArray(body)) return new Refusal(400, 'BAD_REQUEST', 'Batched requests are not supported; send one operation per request.');
    const { query, variables, operationName } = (body ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
    if (typeof query !== 'string' || query.trim() === '') return new Refusal(400, 'BAD_REQUEST', 'The body needs a `query` string.');
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return new Refusal(400, 'BAD_REQUEST', '`variables` must be an object.');
    if (operationName != null && typeof operationName !== 'string') return new Refusal(400, 'BAD_REQUEST', '`operationName` must be a string.');

    const schema = await getSchema();
    // Watch mode replaces the schema after a migration: yesterday's verdicts no longer hold.
    if (schema !== verdictsSchema) {
      verdicts.clear();
      verdictsSchema = schema;
    }
    let verdict = verdicts.get(query);
    if (!verdict) {
      verdict = judge(query, schema);
      verdicts.set(query, verdict);
    }
    if ('refusal' in verdict) return verdict.refusal;
    res.locals.operationName = operationName ?? operationNameOf(verdict.document);
    const badId = badIdVariable(schema, verdict.document, (variables ?? {}) as Record<string, unknown>);
    if (badId !== undefined) return invalidId(badId);

    let cost: number;
    try {
      cost = getComplexity({
        schema,
        query: verdict.document,
        variables: (variables ?? {}) as Record<string, unknown>,
        ...(typeof operationName === 'string' && { operationName }),
        estimators: [pageSizeEstimator as never, simpleEstimator({ defaultComplexity: 1 })],
      });
    } catch {
      // Unknown operation names or bad variables: execution reports them precisely.
      return undefined;
    }
    return cost > limits.maxComplexity
      ? new Refusal(400, 'QUERY_TOO_COMPLEX', `The query's estimated cost is ${cost}, over the limit of ${limits.maxComplexity} (limit maxComplexity); ask for smaller pages.`)
      : undefined;
  }

  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    if (!req.is('application/json')) return send(res, new Refusal(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send GraphQL requests as application/json.'));
    parseJson(req, res, (error?: unknown) => {
      if (error) {
        return (error as { type?: string }).type === 'entity.too.large'
          ? send(res, new Refusal(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${limits.maxBodyBytes} bytes (limit maxBodyBytes).`))
          : send(res, new Refusal(400, 'BAD_REQUEST', 'The request body is not valid JSON.'));
      }
      check(req.body, res).then((refusal) => (refusal ? send(res, refusal) : next()), next);
    });
  };
}

function operationNameOf(document: DocumentNode): string | undefined {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  return operations.length === 1 ? operations[0]!.name?.value : undefined;
}
