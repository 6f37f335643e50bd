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
//
// On top of the objects, the *work*: what the database reads that the response does not
// show (row-prices.ts): `totalCount`, aggregates, groupedAggregates and filters no index serves
// are priced by the rows of the caller's tenant they read (table-rows.ts), each
// connection as many times as it runs (nested in a list: once per parent row, at most the
// parent table's rows). The work is priced before execution only, and the actual cost
// keeps it: what came back does not change what was read.
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
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
  isInputObjectType,
} from 'grafast/graphql';
import type { TableRows } from './table-rows.ts';
import {
  aggregateValuesWork,
  FilterListError,
  filterWork,
  ROW_PRICES,
  rowsPrice,
  type FilterWork,
} from './row-prices.ts';

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

/** A page size, offset or filter list over its maximum: the client's to fix, before anything runs. */
export class PageLimitError extends Error {
  readonly code: 'PAGE_SIZE_TOO_LARGE' | 'OFFSET_TOO_LARGE' | 'FILTER_LIST_TOO_LONG';
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
  /** The caller's rows of a table (0 until loaded); records the tables asked for. */
  rows: (table: string) => number;
  /** Work priced so far (estimate mode only). */
  work: number;
  /** Whether anything priced by rows was met: only then are the rows counted. */
  readsRows: boolean;
}

/** How many items a list holds (the estimate's page) and how often each runs (work). */
interface Items {
  size: number;
  /** Times the items' selections run: parents' runs × min(page, the table's rows). */
  runs: number;
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
  items: Items,
  runs: number,
): number {
  if (!selectionSet) return 0;
  const candidates: readonly GraphQLObjectType[] = isObjectType(type)
    ? [type]
    : walk.schema.getPossibleTypes(type);
  let dearest = 0;
  // Only one of the candidates runs: its work too is the dearest one's, not their sum.
  const workBefore = walk.work;
  let dearestWork = 0;
  for (const objectType of candidates) {
    walk.work = workBefore;
    let cost = 0;
    for (const [key, nodes] of fieldsOf(walk, selectionSet, objectType)) {
      cost += fieldCost(walk, objectType, key, nodes, value, items, runs);
    }
    dearest = Math.max(dearest, cost);
    dearestWork = Math.max(dearestWork, walk.work - workBefore);
  }
  walk.work = workBefore + dearestWork;
  return dearest;
}

function fieldCost(
  walk: Walk,
  owner: GraphQLObjectType,
  key: string,
  nodes: FieldNode[],
  parent: unknown,
  items: Items,
  runs: number,
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
  let inner = items;
  if (page) {
    const table = (named as GraphQLObjectType).extensions.tenantgraph?.table;
    if (!walk.actual)
      walk.work +=
        runs *
        connectionWork(walk, owner, field, nodes[0]!, named as GraphQLObjectType, selectionSet!, table);
    const rows = table ? walk.rows(table) : 0;
    inner = { size: page.size, runs: table && rows > 0 ? Math.min(page.size, rows) : page.size };
  }
  const list = isListType(getNullableType(field.type));
  const itemRuns = list && field.name !== 'groupedAggregates' ? runs * items.runs : runs;
  const itemCost = (item: unknown) => 1 + selectionCost(walk, selectionSet, named, item, inner, itemRuns);

  if (!list) return itemCost(value) + (page?.offset ?? 0);
  if (walk.actual)
    return (value as unknown[]).reduce<number>((sum, item) => sum + (item == null ? 0 : itemCost(item)), 0);
  // nodes and edges hold the enclosing connection's page; groupedAggregates its groups.
  const length = field.name === 'groupedAggregates' ? walk.pages.maxGroups : items.size;
  return length * itemCost(undefined);
}

/** The columns each aggregate of a selection computes: `sum { price } distinctCount { name price }` → sum 1, distinctCount 2. */
function aggregateKinds(walk: Walk, type: GraphQLObjectType, nodes: FieldNode[]): Array<[string, number]> {
  const kinds: Array<[string, number]> = [];
  for (const node of nodes) {
    if (!node.selectionSet) continue;
    for (const [, kindNodes] of fieldsOf(walk, node.selectionSet, type)) {
      const kind = type.getFields()[kindNodes[0]!.name.value];
      const kindType = kind && getNamedType(kind.type);
      if (!kindType || !isObjectType(kindType)) continue;
      let columns = 0;
      for (const kindNode of kindNodes) {
        if (kindNode.selectionSet) columns += fieldsOf(walk, kindNode.selectionSet, kindType).size;
      }
      kinds.push([kind.name, columns]);
    }
  }
  return kinds;
}

/**
 * What one run of a connection reads beyond its page, in points: every `totalCount`,
 * `aggregates` and `groupedAggregates` (each alias is its own statement) reads all the
 * tenant's rows the filter lets through, testing the filter on each; a page whose filter
 * no index serves scans them too. Refuses lists over MAX_FILTER_LIST.
 */
function connectionWork(
  walk: Walk,
  owner: GraphQLObjectType,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
  connection: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  table: string | undefined,
): number {
  if (!table) return 0;
  const args = argumentsOf(walk, field, node);
  const filterArg = field.args.find((arg) => arg.name === 'filter');
  const filterType = filterArg && getNamedType(filterArg.type);
  let filter: FilterWork = { served: true, perRow: 0, flat: 0 };
  if (filterType && isInputObjectType(filterType) && args.filter != null) {
    try {
      filter = filterWork(filterType as GraphQLInputObjectType, args.filter, {
        rows: walk.rows,
        path: `${owner.name}.${field.name}`,
      });
    } catch (error) {
      if (error instanceof FilterListError) throw new PageLimitError(error.code, error.message);
      throw error;
    }
  }
  let perThousand = 0;
  let statements = 0;
  let pageRead = false;
  for (const [, fieldNodes] of fieldsOf(walk, selectionSet, connection)) {
    const name = fieldNodes[0]!.name.value;
    const selected = connection.getFields()[name];
    const selectedType = selected && getNamedType(selected.type);
    if (name === 'totalCount') {
      statements += 1;
      perThousand += ROW_PRICES.count + filter.perRow;
    } else if (name === 'aggregates' && isObjectType(selectedType)) {
      statements += 1;
      perThousand +=
        ROW_PRICES.count +
        filter.perRow +
        aggregateValuesWork(aggregateKinds(walk, selectedType, fieldNodes));
    } else if (name === 'groupedAggregates' && selected && isObjectType(selectedType)) {
      for (const groupNode of fieldNodes) {
        statements += 1;
        const { groupBy } = argumentsOf(walk, selected, groupNode) as { groupBy?: unknown[] | null };
        perThousand +=
          ROW_PRICES.count +
          filter.perRow +
          ROW_PRICES.groupBy * (groupBy?.length ?? 1) +
          aggregateValuesWork(aggregateKinds(walk, selectedType, [groupNode]));
      }
    } else if (!pageRead && (name === 'nodes' || name === 'edges' || name === 'pageInfo')) {
      pageRead = true;
      statements += 1;
      if (!filter.served) perThousand += ROW_PRICES.pageScan + filter.perRow;
    }
  }
  const flat = statements * filter.flat;
  if (perThousand === 0) return flat;
  walk.readsRows = true;
  return flat + rowsPrice(walk.rows(table), perThousand);
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
  rows: (table: string) => number,
): { cost: number; walk: Walk | undefined } {
  const operation = getOperationAST(input.document, input.operationName);
  if (!operation) return { cost: OPERATION_COST, walk: undefined };
  const root = input.schema.getRootType(operation.operation);
  if (!root) return { cost: OPERATION_COST, walk: undefined };
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
    rows,
    work: 0,
    readsRows: false,
  };
  let cost = OPERATION_COST;
  const items: Items = { size: pages.defaultSize, runs: pages.defaultSize };
  for (const [key, nodes] of collectFields(walk, operation.selectionSet, root)) {
    if (operation.operation === 'mutation') cost += MUTATION_COST;
    cost += fieldCost(walk, root, key, nodes, data, items, 1);
  }
  return { cost: cost + walk.work, walk };
}

/** An operation's estimate: `cost` in all, of which `work` for the rows it reads (kept after execution). */
export interface Estimate {
  cost: number;
  work: number;
}

/**
 * The cost an operation may reach, before it runs. Throws PageLimitError. When it reads
 * rows (totalCount, aggregates, a filter no index serves), the caller's rows of the
 * tables it reads are counted first (`tableRows`); without `tableRows` they count as 0.
 */
export async function requestedCost(
  input: OperationInput,
  pages: PageLimits,
  tableRows?: TableRows,
): Promise<Estimate> {
  const tables = new Set<string>();
  const first = operationCost(input, pages, undefined, false, (table) => {
    tables.add(table);
    return 0;
  });
  if (!first.walk?.readsRows || !tableRows) return { cost: first.cost, work: first.walk?.work ?? 0 };
  await tableRows.load(tables);
  const priced = operationCost(input, pages, undefined, false, (table) => tableRows.get(table) ?? 0);
  return { cost: priced.cost, work: priced.walk!.work };
}

/** The cost of what an operation returned, plus the work its estimate priced (`work`). */
export function actualCost(
  input: OperationInput,
  pages: PageLimits,
  data: Record<string, unknown> | null | undefined,
  work = 0,
): number {
  return operationCost(input, pages, data, true, () => 0).cost + work;
}
