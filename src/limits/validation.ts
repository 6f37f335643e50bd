// The one parse and validation of every operation, whatever its transport: grafserv
// calls this in place of its own (see plugin.ts). On top of the GraphQL rules it refuses
// documents that are too large, too deep, too aliased or too decorated, introspection
// when it is off, and ID literals that are not ids of this API. Every error carries a
// code naming what was refused; without introspection, "Did you mean …?" hints are left
// out, since they map the schema. Verdicts are cached by query text, per schema.
import { createHash } from 'node:crypto';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  Source,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'grafast/graphql';
import { LRUCache } from 'lru-cache';
import type { ErrorCode } from '../errors/catalogue.ts';
import { badIdLiteral, invalidIdMessage } from './global-ids.ts';
import { maxAliasesRule, maxDepthRule, maxDirectivesRule } from './graphql-rules.ts';
import { withoutHints } from './hints.ts';

export interface DocumentLimits {
  /** Most tokens a document may have (MAX_QUERY_TOKENS). */
  maxTokens: number;
  /** Deepest selection nesting (MAX_QUERY_DEPTH). */
  maxDepth: number;
  /** Most aliases in one operation (MAX_QUERY_ALIASES). */
  maxAliases: number;
  /** Most directives in one operation (MAX_QUERY_DIRECTIVES). */
  maxDirectives: number;
  /** Whether introspection is allowed, and errors suggest the schema's names (INTROSPECTION). */
  introspection: boolean;
}

export type ParseAndValidate = (
  query: string,
) =>
  { document: DocumentNode; errors?: undefined } | { errors: readonly GraphQLError[]; document?: undefined };

const refusal = (code: ErrorCode, ...messages: string[]) => ({
  errors: messages.map((message) => new GraphQLError(message, { extensions: { code } })),
});

// graphql-armor's rules throw their GraphQLError instead of reporting it.
function firstError(schema: GraphQLSchema, document: DocumentNode, rule: ValidationRule): string | undefined {
  try {
    return validate(schema, document, [rule])[0]?.message;
  } catch (error) {
    if (error instanceof GraphQLError) return error.message.replace(/^Syntax Error: /, '');
    throw error;
  }
}

export function createParseAndValidate(schema: GraphQLSchema, limits: DocumentLimits): ParseAndValidate {
  const documentRules: Array<[ErrorCode, ValidationRule]> = [
    ['QUERY_TOO_DEEP', maxDepthRule({ n: limits.maxDepth, exposeLimits: true })],
    ['TOO_MANY_ALIASES', maxAliasesRule({ n: limits.maxAliases, exposeLimits: true })],
    ['TOO_MANY_DIRECTIVES', maxDirectivesRule({ n: limits.maxDirectives, exposeLimits: true })],
  ];
  if (!limits.introspection) documentRules.push(['INTROSPECTION_DISABLED', NoSchemaIntrospectionCustomRule]);
  const verdicts = new LRUCache<string, ReturnType<ParseAndValidate>>({ max: 500 });

  function judge(query: string): ReturnType<ParseAndValidate> {
    let document: DocumentNode;
    try {
      document = parse(new Source(query, 'GraphQL request'), {
        maxTokens: limits.maxTokens,
        noLocation: true,
      });
    } catch (error) {
      const message = (error as GraphQLError).message;
      return /tokens/.test(message)
        ? refusal(
            'QUERY_TOO_LARGE',
            `The query has more than ${limits.maxTokens} tokens (limit MAX_QUERY_TOKENS).`,
          )
        : refusal('GRAPHQL_PARSE_FAILED', message);
    }
    for (const [code, rule] of documentRules) {
      const message = firstError(schema, document, rule);
      if (message) return refusal(code, message);
    }
    const errors = validate(schema, document);
    if (errors.length > 0) {
      return refusal(
        'GRAPHQL_VALIDATION_FAILED',
        ...errors.map((error) => (limits.introspection ? error.message : withoutHints(error.message))),
      );
    }
    const badId = badIdLiteral(schema, document);
    if (badId !== undefined) return refusal('INVALID_ID', invalidIdMessage(badId));
    return { document };
  }

  return (query) => {
    // Long texts are keyed by their hash, so the cache holds at most 500 short keys.
    const key = query.length > 500 ? createHash('sha1').update(query).digest('base64') : query;
    let verdict = verdicts.get(key);
    if (!verdict) {
      verdict = judge(query);
      verdicts.set(key, verdict);
    }
    return verdict;
  };
}
