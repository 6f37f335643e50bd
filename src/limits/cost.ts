// What an operation costs, in points, after Shopify's Admin API: every object in the
// response costs 1 (scalars are free), every operation 10 for the work any request
// takes, every mutation field 10 more. A list costs its length times what each item
// selects, so nested connections multiply; a connection's `offset` costs 1 per row it
// skips, since the database reads those rows too. One walker answers two questions:
//
// - before execution (no data): the *requested* cost, with every connection at the page
//   size it will really return (first/last, else the default page size, both applied in
//   the SQL by the page-size plugin) and groupedAggregates at its maximum of groups;
//   page sizes and offsets over their maxima are refused here, naming the maximum;
// - after execution (with the data): the *actual* cost, the same sum over what came back.
//
// Aliases, fragments, inline fragments and @skip/@include count as they execute. For an
// abstract type (the Node interface) the estimate takes the dearest possible type.
import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  GraphQLIncludeDirective,
  GraphQLObjectType,
  GraphQLSkipDirective,
  isAbstractType,
  isLeafType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'grafast/graphql';

export interface PageLimits {
  /** Rows of a connection without first/last. */
  defaultSize: number;
  /** Largest first/last. */
  maxSize: number;
  /** Largest offset. */
  maxOffset: number;
  /** Most groups of one groupedAggregates. */
  maxGroups: number;
}

/** Every operation's base cost: the work of any request, whatever it selects. */
export const OPERATION_COST = 10;
/** What each mutation field adds: a write and its triggers. */
export const MUTATION_COST = 10;

/** A page size or offset over its maximum: the client's to fix, before anything runs. */
export class PageLimitError extends Error {
  readonly code: 'PAGE_SIZE_TOO_LARGE' | 'OFFSET_TOO_LARGE';
  constructor(code: PageLimitError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  pages: PageLimits;
  /** Actual mode: walk the data that came back instead of assuming full pages. */
  actual: boolean;
  // What depends on the document and the variables only, worked out once per walk, not
  // once per row of every list (50 rows: 50 times the same fields and page).
  fields: Map<SelectionSetNode, Map<GraphQLObjectType, Map<string, FieldNode[]>>>;
  merged: Map<FieldNode[], SelectionSetNode>;
  pageSizes: Map<FieldNode, { size: number; offset: number }>;
}

const isConnection = (type: GraphQLCompositeType) =>
  isObjectType(type) &&
  type.name.endsWith('Connection') &&
  ('nodes' in type.getFields() || 'edges' in type.getFields());

function included(walk: Walk, node: FieldNode | { directives?: FieldNode['directives'] }): boolean {
  if (!node.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, node, walk.variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, walk.variables)?.if !== false;
}

/** The fields a selection set runs on an object of `type`, by response key (fragments flattened). */
function collectFields(
  walk: Walk,
  selectionSet: SelectionSetNode,
  type: GraphQLObjectType,
  into = new Map<string, FieldNode[]>(),
) {
  for (const selection of selectionSet.selections) {
    if (!included(walk, selection)) continue;
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      into.set(key, [...(into.get(key) ?? []), selection]);
      continue;
    }
    const fragment =
      selection.kind === Kind.INLINE_FRAGMENT ? selection : walk.fragments.get(selection.name.value);
    if (!fragment) continue;
    const condition = fragment.typeCondition && walk.schema.getType(fragment.typeCondition.name.value);
    const applies =
      !condition ||
      condition === type ||
      (isAbstractType(condition) && walk.schema.isSubType(condition, type));
    if (applies) collectFields(walk, fragment.selectionSet, type, into);
  }
  return into;
}

function argumentsOf(
  walk: Walk,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
): Record<string, unknown> {
  return field.args.length === 0 ? {} : getArgumentValues(field as never, node, walk.variables);
}

function fieldsOf(walk: Walk, selectionSet: SelectionSetNode, type: GraphQLObjectType) {
  let byType = walk.fields.get(selectionSet);
  if (!byType) walk.fields.set(selectionSet, (byType = new Map()));
  let fields = byType.get(type);
  if (!fields) byType.set(type, (fields = collectFields(walk, selectionSet, type)));
  return fields;
}

/** Rows a connection field returns at most, and skips; refuses page sizes and offsets over the maxima. */
function pageOf(
  walk: Walk,
  owner: GraphQLObjectType,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
): { size: number; offset: number } {
  const known = walk.pageSizes.get(node);
  if (known) return known;
  const { first, last, offset } = argumentsOf(walk, field, node) as {
    first?: number | null;
    last?: number | null;
    offset?: number | null;
  };
  const { maxSize, maxOffset, defaultSize } = walk.pages;
  for (const [name, value] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (value != null && value > maxSize) {
      throw new PageLimitError(
        'PAGE_SIZE_TOO_LARGE',
        `\`${name}: ${value}\` on ${owner.name}.${field.name} is over the largest page of ${maxSize} rows (MAX_PAGE_SIZE); page with cursors (after/before) instead.`,
      );
    }
  }
  if (offset != null && offset > maxOffset) {
    throw new PageLimitError(
      'OFFSET_TOO_LARGE',
      `\`offset: ${offset}\` on ${owner.name}.${field.name} is over the limit of ${maxOffset} (MAX_OFFSET); page with cursors (after/before) instead.`,
    );
  }
  const sizes = [first, last]
    .filter((value): value is number => value != null)
    .map((value) => Math.max(0, value));
  const page = {
    size: sizes.length > 0 ? Math.min(...sizes) : defaultSize,
    offset: Math.max(0, offset ?? 0),
  };
  walk.pageSizes.set(node, page);
  return page;
}

/** Cost of what `selectionSet` selects on `value` (actual) or on any object of `type` (estimate). */
function selectionCost(
  walk: Walk,
  selectionSet: SelectionSetNode | undefined,
  type: GraphQLCompositeType,
  value: unknown,
  pageSize: number,
): number {
  if (!selectionSet) return 0;
  const candidates: readonly GraphQLObjectType[] = isObjectType(type)
    ? [type]
    : walk.schema.getPossibleTypes(type);
  let dearest = 0;
  for (const objectType of candidates) {
    let cost = 0;
    for (const [key, nodes] of fieldsOf(walk, selectionSet, objectType)) {
      cost += fieldCost(walk, objectType, key, nodes, value, pageSize);
    }
    dearest = Math.max(dearest, cost);
  }
  return dearest;
}

function fieldCost(
  walk: Walk,
  owner: GraphQLObjectType,
  key: string,
  nodes: FieldNode[],
  parent: unknown,
  pageSize: number,
): number {
  const field = owner.getFields()[nodes[0]!.name.value];
  if (!field) return 0; // __typename and the like
  const named = getNamedType(field.type);
  if (isLeafType(named)) return 0;
  const value = walk.actual ? (parent as Record<string, unknown> | null | undefined)?.[key] : undefined;
  if (walk.actual && value == null) return 0;

  // Fields of the same response key merge their selections.
  let selectionSet: SelectionSetNode | undefined = nodes[0]!.selectionSet;
  if (nodes.length > 1) {
    selectionSet = walk.merged.get(nodes);
    if (!selectionSet) {
      selectionSet = {
        kind: Kind.SELECTION_SET,
        selections: nodes.flatMap((node) => node.selectionSet?.selections ?? []),
      };
      walk.merged.set(nodes, selectionSet);
    }
  }
  const page = isConnection(named) ? pageOf(walk, owner, field, nodes[0]!) : undefined;
  const itemCost = (item: unknown) =>
    1 + selectionCost(walk, selectionSet, named, item, page?.size ?? pageSize);

  if (!isListType(getNullableType(field.type))) return itemCost(value) + (page?.offset ?? 0);
  if (walk.actual)
    return (value as unknown[]).reduce<number>((sum, item) => sum + (item == null ? 0 : itemCost(item)), 0);
  // nodes and edges hold the enclosing connection's page; groupedAggregates its groups.
  const length = field.name === 'groupedAggregates' ? walk.pages.maxGroups : pageSize;
  return length * itemCost(undefined);
}

export interface OperationInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null | undefined;
  /** Coerced variable values (defaults applied). */
  variables: Record<string, unknown>;
}

function operationCost(
  input: OperationInput,
  pages: PageLimits,
  data: Record<string, unknown> | null | undefined,
  actual: boolean,
): number {
  const operation = getOperationAST(input.document, input.operationName);
  if (!operation) return OPERATION_COST;
  const root = input.schema.getRootType(operation.operation);
  if (!root) return OPERATION_COST;
  const walk: Walk = {
    schema: input.schema,
    fragments: new Map(
      input.document.definitions
        .filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION)
        .map((fragment) => [fragment.name.value, fragment]),
    ),
    variables: input.variables,
    pages,
    actual,
    fields: new Map(),
    merged: new Map(),
    pageSizes: new Map(),
  };
  let cost = OPERATION_COST;
  for (const [key, nodes] of collectFields(walk, operation.selectionSet, root)) {
    if (operation.operation === 'mutation') cost += MUTATION_COST;
    cost += fieldCost(walk, root, key, nodes, data, pages.defaultSize);
  }
  return cost;
}

/** The cost an operation may reach, before it runs. Throws PageLimitError. */
export function requestedCost(input: OperationInput, pages: PageLimits): number {
  return operationCost(input, pages, undefined, false);
}

/** The cost of what an operation returned. */
export function actualCost(
  input: OperationInput,
  pages: PageLimits,
  data: Record<string, unknown> | null | undefined,
): number {
  return operationCost(input, pages, data, true);
}
