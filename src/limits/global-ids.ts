// Every ID in this API is a global id: base64 of a JSON array naming the table and the
// row's key, e.g. ["products", "<tenant uuid>", "<row uuid>"]. One that is not even
// that shape is a client's mistake worth a 400, rather than a silent "not found". (A
// well-formed id of a row you cannot see still reads as not found, like any other.)
import {
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  Kind,
  typeFromAST,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'grafast/graphql';

/** The refusal's words for a value that is not a global id. */
export function invalidIdMessage(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return `"${shown}" is not an id of this API: ids are the \`id\` values it returns.`;
}

export function isGlobalId(value: string): boolean {
  if (value.length > 1_000) return false;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
    return Array.isArray(decoded) && decoded.length >= 2 && typeof decoded[0] === 'string';
  } catch {
    return false;
  }
}

const isIdType = (type: GraphQLInputType | null | undefined) =>
  type != null && getNamedType(type).name === 'ID';

/** The first ID-typed string literal in the document that is not a global id. */
export function badIdLiteral(schema: GraphQLSchema, document: DocumentNode): string | undefined {
  const typeInfo = new TypeInfo(schema);
  let bad: string | undefined;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      StringValue(node) {
        if (bad === undefined && isIdType(typeInfo.getInputType()) && !isGlobalId(node.value))
          bad = node.value;
      },
    }),
  );
  return bad;
}

function badIdIn(value: unknown, type: GraphQLInputType): string | undefined {
  if (value == null) return undefined;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      const bad = badIdIn(item, nullable.ofType);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object') return undefined;
    for (const [name, field] of Object.entries(nullable.getFields())) {
      const bad = badIdIn((value as Record<string, unknown>)[name], field.type);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return isIdType(nullable) && typeof value === 'string' && !isGlobalId(value) ? value : undefined;
}

/** The first ID in the variables (at any depth of an input object) that is not a global id. */
export function badIdVariable(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const variable of definition.variableDefinitions ?? []) {
      const type = typeFromAST(schema, variable.type as never) as GraphQLInputType | undefined;
      const bad = type && badIdIn(variables[variable.variable.name.value], type);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}
