// What reading rows costs, in points, priced before anything runs. The object prices of
// cost.ts follow what an operation returns; these follow what the database reads for it:
// `totalCount` and aggregates read every row of the tenant's table that the filter lets
// through, a filter no index serves makes even a page of 50 scan the tenant's rows, and
// some operators cost per row *and* per list element.
//
// The rate: DB_POINTS_PER_MS (10) points buy one millisecond of database time (a tenant that
// spends its whole restore rate of 500 points/s holds at most 50 ms of database time per
// second). Each price below is per 1,000 rows of the caller's tenant (table-rows.ts),
// set from the operations of issue 21 timed on a tenant of 200,000 products
// (test/pricing.test.ts prints this table: PostgreSQL 17 on the shared 2-core machine,
// median of 3, every statement timed by the server's client), points as charged:
//
// | operation on 200,000 rows                                   | DB ms | points | × list |
// | ---                                                         | ---:  | ---:   | ---:   |
// | `products(first: 50) { nodes { name price } }` (the list)    | 1.6-3.3 | 61   | 1      |
// | `totalCount`                                                | 26    | 811    | 0.6    |
// | `totalCount`, `name: {includesInsensitive}`                 | 79    | 1,611  | 1.7    |
// | page of 50, `price: {lessThan}` matching nothing            | 149   | 8,811  | 0.5    |
// | page of 50, `name: {includesInsensitive}`                   | 231   | 8,811  | 0.9    |
// | `aggregates { distinctCount { name createdAt price } }`     | 140   | 3,213  | 1.3    |
// | `aggregates { sum average min max { price } }`              | 40    | 1,616  | 0.7    |
// | `groupedAggregates(groupBy: [CREATED_AT_TRUNCATED_TO_HOUR])` | 126  | 3,611  | 1.2    |
// | 5 × nested `category { products { totalCount } }`          | 107   | 4,026  | 0.9    |
// | `totalCount`, `notInInsensitive` of 2 names                 | 193   | 5,613  | 0.8    |
//
// Under the load of other test files: 2 to 5 times the time, up to 6x the list.
// (× list: the operation's ms per point over the normal list's; the target is at most
// 10.) docs/limits.md, "Priced by the rows read", has the same tables.
import {
  getNamedType,
  isInputObjectType,
  isListType,
  getNullableType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
} from 'grafast/graphql';

/** Points per 1,000 rows (of the caller's tenant) read, by what reads them. */
export const ROW_PRICES = {
  /** `totalCount`, and the scan under `aggregates` and `groupedAggregates`: 40-116 ms per 200,000 rows. */
  count: 4,
  /**
   * A page whose filter no index serves: the planner walks the primary key in order and
   * tests every row (722 ms per 200,000 rows for a filter that matched nothing).
   */
  pageScan: 40,
  /** Each operator no index serves, tested on every row (`includesInsensitive`: 84 ms more per 200,000). */
  operator: 4,
  /** Each sum, average, min, max, stddev or variance of one column. */
  aggregate: 1,
  /** Each distinctCount of one column (a sort of the rows): 205 ms for 3 columns of 200,000 rows. */
  distinctCount: 4,
  /** Each groupBy of groupedAggregates (a sort or hash of every row). */
  groupBy: 10,
  /** A relation filter's lookup of the related row, per row tested (232 ms per 200,000). */
  relation: 12,
  /**
   * `notInInsensitive`, per row *and* per list element: connection-filter compiles it to
   * `lower(col) <> ALL((select lower(t) from unnest($1) t))`, which PostgreSQL cannot
   * hash (1,270-3,800 ms for 10 names over 200,000 rows).
   */
  perElement: 10,
} as const;

/** The longest list an `in`/`notIn` (or `…Insensitive`) filter takes. */
export const MAX_FILTER_LIST = 100;
/**
 * Each value of a filter list, once per statement that applies it, whatever the rows: an
 * index probe for `in`, a hash entry for the others (`in` of 100 names: 5 ms).
 */
export const LIST_VALUE_POINTS = 1;

/**
 * Operators an index serves whatever the plan: equality on the indexed columns, the
 * only ones filters are offered on (PgIndexBehaviorsPlugin), and `in` of at most
 * MAX_FILTER_LIST values (a page of 100 names: 3.6 ms on 200,000 rows). Range operators
 * are not here on purpose: @dataplan/pg's prepared statements get a generic plan whose
 * guess for `price < $1` walks the primary key instead (722 ms for a page that matched
 * nothing on 200,000 rows).
 */
const SERVED = new Set(['equalTo', 'in']);
/** List operators PostgreSQL cannot hash: rows × elements. */
const PER_ELEMENT = new Set(['notInInsensitive']);
const LISTS = new Set(['in', 'notIn', 'inInsensitive', 'notInInsensitive']);
const LOGICAL = new Set(['and', 'or', 'not']);
const AGGREGATE_KINDS = new Set([
  'sum',
  'average',
  'min',
  'max',
  'stddevSample',
  'stddevPopulation',
  'varianceSample',
  'variancePopulation',
]);

/** A filter's list over MAX_FILTER_LIST: refused before anything runs. */
export class FilterListError extends Error {
  readonly code = 'FILTER_LIST_TOO_LONG';
}

/** What a connection's filter costs per row it tests, in points per 1,000 rows. */
export interface FilterWork {
  /** Whether every operator is one an index serves: a page then reads about its own rows. */
  served: boolean;
  /** Points per 1,000 rows tested. */
  perRow: number;
  /** Points per statement that applies the filter, whatever the rows (list values). */
  flat: number;
}

export interface FilterContext {
  /** The caller's rows of a table; 0 while the counts are not loaded. */
  rows(table: string): number;
  /** Where the filter sits, for the error message. */
  path: string;
}

const tableOf = (type: GraphQLInputObjectType | undefined) => type?.extensions.tenantgraph?.table;

/** The table a relation filter's input reads: its own, or its `filter`'s (an aggregates filter). */
function relatedTable(type: GraphQLInputObjectType): string | undefined {
  const inner = type.getFields().filter;
  const named = inner && getNamedType(inner.type as GraphQLInputType);
  return tableOf(type) ?? (named && isInputObjectType(named) ? tableOf(named) : undefined);
}

/** The work of a table filter (`ProductFilter`) per row it is tested on. */
export function filterWork(
  type: GraphQLInputObjectType,
  value: unknown,
  context: FilterContext,
  negated = false,
): FilterWork {
  let served = true;
  let perRow = 0;
  let flat = 0;
  const add = (work: FilterWork) => {
    served &&= work.served;
    perRow += work.perRow;
    flat += work.flat;
  };
  if (value == null || typeof value !== 'object') return { served, perRow, flat };
  const fields = type.getFields();
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const field = fields[key];
    if (!field || inner == null) continue;
    if (LOGICAL.has(key)) {
      const items = Array.isArray(inner) ? inner : [inner];
      for (const item of items) add(filterWork(type, item, context, negated || key === 'not'));
      continue;
    }
    const named = getNamedType(field.type as GraphQLInputType);
    if (!isInputObjectType(named)) {
      // `categoryExists: true`: a lookup of the related row.
      add({ served: false, perRow: ROW_PRICES.relation, flat: 0 });
      continue;
    }
    const remote = tableOf(named);
    if (remote) {
      // A forward relation (`category: CategoryFilter`): one related row per row tested.
      const work = filterWork(named, inner, context, negated);
      add({ served: false, perRow: ROW_PRICES.relation + work.perRow, flat: work.flat });
      continue;
    }
    const many = named.getFields();
    if ('some' in many || 'every' in many || 'none' in many) {
      add(manyWork(named, inner as Record<string, unknown>, context));
      continue;
    }
    add(operatorWork(named, key, inner as Record<string, unknown>, context, negated));
  }
  return { served, perRow, flat };
}

/** A backward relation (`products: {some: …}`): each row tested reads the related rows. */
function manyWork(
  type: GraphQLInputObjectType,
  value: Record<string, unknown>,
  context: FilterContext,
): FilterWork {
  let perRow = 0;
  for (const [key, inner] of Object.entries(value)) {
    const field = type.getFields()[key];
    const named = field && getNamedType(field.type as GraphQLInputType);
    if (!named || !isInputObjectType(named) || inner == null) continue;
    const remote = relatedTable(named);
    const related = remote ? context.rows(remote) : 0;
    const inside =
      key === 'aggregates'
        ? aggregateFilterWork(named, inner as Record<string, unknown>, context)
        : filterWork(named, inner, context).perRow;
    // Per 1,000 rows tested, 1,000 reads of the related rows.
    perRow += related * (ROW_PRICES.count + inside);
  }
  return { served: false, perRow: ROW_PRICES.relation + perRow, flat: 0 };
}

/** `aggregates: {filter: …, distinctCount: {name: …}}` inside a backward relation filter. */
function aggregateFilterWork(
  type: GraphQLInputObjectType,
  value: Record<string, unknown>,
  context: FilterContext,
): number {
  let perRow = 0;
  for (const [kind, inner] of Object.entries(value)) {
    const field = type.getFields()[kind];
    const named = field && getNamedType(field.type as GraphQLInputType);
    if (!named || !isInputObjectType(named) || inner == null) continue;
    if (kind === 'filter') {
      perRow += filterWork(named, inner, context).perRow;
      continue;
    }
    const columns = Object.keys(inner as object).length;
    perRow += columns * (kind === 'distinctCount' ? ROW_PRICES.distinctCount : ROW_PRICES.aggregate);
  }
  return perRow;
}

/** One column's operators (`name: {includesInsensitive: "x", in: [...]}`). */
function operatorWork(
  type: GraphQLInputObjectType,
  column: string,
  value: Record<string, unknown>,
  context: FilterContext,
  negated: boolean,
): FilterWork {
  let served = true;
  let perRow = 0;
  let flat = 0;
  for (const [operator, operand] of Object.entries(value)) {
    if (operand == null) continue;
    const field = type.getFields()[operator];
    const isList = field && isListType(getNullableType(field.type));
    if (isList && LISTS.has(operator) && Array.isArray(operand) && operand.length > MAX_FILTER_LIST) {
      throw new FilterListError(
        `\`${column}: {${operator}: [${operand.length} values]}\` on ${context.path} is over the limit of ${MAX_FILTER_LIST} values per list; narrow the filter or page through the values.`,
      );
    }
    if (LISTS.has(operator) && Array.isArray(operand)) flat += LIST_VALUE_POINTS * operand.length;
    if (SERVED.has(operator) && !negated) continue;
    served = false;
    perRow += ROW_PRICES.operator;
    if (PER_ELEMENT.has(operator) && Array.isArray(operand)) perRow += ROW_PRICES.perElement * operand.length;
  }
  return { served, perRow, flat };
}

/** Per 1,000 rows, what an `aggregates` (or one group's) selection computes. */
export function aggregateValuesWork(kinds: Iterable<[kind: string, columns: number]>): number {
  let perRow = 0;
  for (const [kind, columns] of kinds) {
    if (kind === 'distinctCount') perRow += columns * ROW_PRICES.distinctCount;
    else if (AGGREGATE_KINDS.has(kind)) perRow += columns * ROW_PRICES.aggregate;
  }
  return perRow;
}

/** Points for reading `rows` rows at `perThousand` points per 1,000, rounded up. */
export const rowsPrice = (rows: number, perThousand: number) => Math.ceil((rows * perThousand) / 1000);
