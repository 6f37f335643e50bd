// Page sizes. PostGraphile reads every row of a connection asked for without `first`
// or `last`, and groupedAggregates returns every group; open-source v5 has no cap. This
// puts a LIMIT into the SQL it generates: a connection without `first` and `last` reads
// `defaultSize` rows, and groupedAggregates reads at most `maxGroups + 1` groups and
// refuses to answer if there are more (a silently truncated aggregate is a wrong answer).
// The maxima of first/last/offset are checked before execution, with the cost
// (src/limits/cost.ts); here they are stated in the argument descriptions GraphiQL shows.
import type { PgSelectStep } from '@dataplan/pg';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { PageLimits } from '../limits/cost.ts';
import {
  ConnectionStep,
  constant,
  ConstantStep,
  flagError,
  lambda,
  SafeError,
  Step,
  type ExecutionDetails,
  type FieldPlanResolver,
} from 'grafast';
import { version } from '../version.ts';

export const TOO_MANY_GROUPS: ErrorCode = 'TOO_MANY_GROUPS';

interface Pageable extends Step {
  setFirst(first: Step): unknown;
  setLast?(last: Step): unknown;
}

function isPageable(step: unknown): step is Pageable {
  return step instanceof Step && typeof (step as Partial<Pageable>).setFirst === 'function';
}

/**
 * Where the default page size goes. A connection hands first/last straight to a collection
 * with full pagination support (a PgSelect), but also marks the collection's rows as
 * needed. When the query names neither `first` nor `last`, setting the default on the
 * collection itself keeps a query for only `totalCount` or aggregates from reading a page
 * of rows nobody asked for. When it names them (even as null), they go through the
 * connection as they always did, so a bad value (`first: -1`) is still refused.
 */
function pageTarget($result: Step, sizeNamed: boolean): Pageable | undefined {
  if (!sizeNamed && $result instanceof ConnectionStep) {
    const $collection: unknown = $result.getSubplan();
    const support = ($collection as { paginationSupport?: { full?: boolean } }).paginationSupport;
    if (support?.full === true && isPageable($collection)) return $collection;
  }
  return isPageable($result) ? $result : undefined;
}

// grafast's own test for an argument the query does not name (see processAfter).
const isAbsent = ($arg: Step) => $arg instanceof ConstantStep && $arg.data === undefined;

/**
 * The rows of a groupedAggregates query, refused when there are more than `maxGroups`.
 * Arguments (groupBy, having) still apply to the query, and list items are planned by it.
 */
class GroupLimitStep extends Step<readonly unknown[] | null> {
  override isSyncAndSafe = false;
  readonly #select: PgSelectStep;
  readonly #maxGroups: number;

  constructor($select: PgSelectStep, maxGroups: number) {
    super();
    this.#select = $select;
    this.#maxGroups = maxGroups;
    this.addDependency($select.items());
  }

  apply($step: Step): void {
    this.#select.apply($step as Parameters<PgSelectStep['apply']>[0]);
  }

  listItem($item: Step): Step {
    return this.#select.listItem($item as Parameters<PgSelectStep['listItem']>[0]);
  }

  override execute({ indexMap, values: [rows] }: ExecutionDetails<[readonly unknown[] | null]>) {
    const maxGroups = this.#maxGroups;
    return indexMap((i) => {
      const groups = rows.at(i);
      if (Array.isArray(groups) && groups.length > maxGroups) {
        return flagError(
          new SafeError(
            `More than ${maxGroups} groups: groupedAggregates returns at most ${maxGroups} (MAX_GROUPS). Narrow the rows with a filter or condition, or group by fewer columns.`,
            { code: TOO_MANY_GROUPS },
          ),
        );
      }
      return groups;
    });
  }
}

/** The page-size hooks for one set of limits, as functions (graphile-build also takes descriptors). */
type Hooks = NonNullable<NonNullable<GraphileConfig.Plugin['schema']>['hooks']>;
type HookFunction<Name extends keyof Hooks> = Extract<
  NonNullable<Hooks[Name]>,
  (...args: never[]) => unknown
>;
interface PageHooks {
  GraphQLObjectType_fields_field: HookFunction<'GraphQLObjectType_fields_field'>;
  GraphQLObjectType_fields_field_args: HookFunction<'GraphQLObjectType_fields_field_args'>;
}

function pageHooks(pages: PageLimits): PageHooks {
  const { defaultSize, maxSize, maxOffset, maxGroups } = pages;
  // Results whose first/last this plugin has set: their own first/last arguments must
  // not set them again (grafast allows one setFirst per connection).
  const paged = new WeakSet<Step>();

  // Without first and last: the first defaultSize rows, or with `before`, the
  // defaultSize rows just before it. `first` and `last` given are left as they are.
  const defaultFirst = ([first, last, before]: readonly unknown[]) =>
    first ?? (last == null && before == null ? defaultSize : null);
  const defaultLast = ([first, last, before]: readonly unknown[]) =>
    last ?? (first == null && before != null ? defaultSize : null);

  function withDefaultPageSize(plan: FieldPlanResolver): FieldPlanResolver {
    return ($parent, fieldArgs, info) => {
      const $result = plan($parent, fieldArgs, info);
      if ($result === null) return $result;
      const argNames = new Set(info.field.args.map((arg) => arg.name));
      if (!argNames.has('first')) return $result;
      const arg = (name: string) => (argNames.has(name) ? fieldArgs.getRaw(name) : constant(undefined));
      const [$first, $last, $before] = [arg('first'), arg('last'), arg('before')];
      const $target = pageTarget($result, !isAbsent($first) || !isAbsent($last));
      if (!$target) return $result;
      $target.setFirst(lambda([$first, $last, $before], defaultFirst, true));
      if (argNames.has('last') && $target.setLast)
        $target.setLast(lambda([$first, $last, $before], defaultLast, true));
      paged.add($result);
      return $result;
    };
  }

  function withGroupLimit(plan: FieldPlanResolver): FieldPlanResolver {
    return ($parent, fieldArgs, info) => {
      const $select = plan($parent, fieldArgs, info);
      if (
        !isPageable($select) ||
        !('items' in $select) ||
        !('listItem' in $select) ||
        !('apply' in $select)
      ) {
        // Unbounded is what this plugin exists to prevent: fail loudly if pg-aggregates changes.
        throw new Error(
          `PageSizePlugin: ${info.parentType.name}.${info.fieldName} is not planned as a PgSelect any more; cannot limit its groups`,
        );
      }
      // One more than allowed, to tell "exactly maxGroups" from "too many".
      $select.setFirst(constant(maxGroups + 1));
      return new GroupLimitStep($select as unknown as PgSelectStep, maxGroups);
    };
  }

  return {
    GraphQLObjectType_fields_field(field, build, context) {
      const { scope } = context;
      if (!field.plan) return field;
      if (scope.isPgFieldConnection || scope.isPgFieldSimpleCollection) {
        return { ...field, plan: withDefaultPageSize(field.plan) };
      }
      if (
        scope.isConnectionType &&
        scope.isPgConnectionRelated &&
        scope.fieldName === groupedAggregatesFieldName(build)
      ) {
        return {
          ...field,
          description: [
            field.description?.replace(/\.?$/, '.'),
            `At most ${maxGroups} groups; more is an error (${TOO_MANY_GROUPS}): narrow the rows with a filter.`,
          ]
            .filter(Boolean)
            .join(' '),
          plan: withGroupLimit(field.plan),
        };
      }
      return field;
    },

    GraphQLObjectType_fields_field_args(args, build, context) {
      const { isPgFieldConnection, isPgFieldSimpleCollection } = context.scope;
      if (!(isPgFieldConnection || isPgFieldSimpleCollection) || !args.first) return args;
      const { first, last, offset } = args;
      const unlessPaged = (applyPlan: NonNullable<typeof first.applyPlan> | undefined): typeof applyPlan =>
        applyPlan && ((...params) => (paged.has(params[1]) ? undefined : applyPlan(...params)));
      const defaultRead = args.last
        ? `Without \`first\` and \`last\`, reads ${defaultSize}: the first ${defaultSize}, or the last ${defaultSize} before \`before\`.`
        : `Without \`first\`, reads the first ${defaultSize}.`;
      return {
        ...args,
        first: {
          ...first,
          description: build.wrapDescription(
            `Only read the first \`n\` values of the set; at most ${maxSize}. ${defaultRead}`,
            'arg',
          ),
          applyPlan: unlessPaged(first.applyPlan),
        },
        ...(last && {
          last: {
            ...last,
            description: build.wrapDescription(
              `Only read the last \`n\` values of the set; at most ${maxSize}.`,
              'arg',
            ),
            applyPlan: unlessPaged(last.applyPlan),
          },
        }),
        ...(offset && {
          offset: {
            ...offset,
            description: build.wrapDescription(
              isPgFieldConnection
                ? `Skip the first \`n\` values from our \`after\` cursor, an alternative to cursor based pagination; at most ${maxOffset}. May not be used with \`last\`.`
                : `Skip the first \`n\` values; at most ${maxOffset}.`,
              'arg',
            ),
          },
        }),
      };
    },
  };
}

/** One set of hooks per page limits: a server's schema (and its rebuilds in watch mode) shares them. */
const hooksByPages = new WeakMap<PageLimits, PageHooks>();

function hooksFor(build: GraphileBuild.Build): PageHooks {
  const pages = build.options.tenantgraphPages;
  if (!pages)
    throw new Error('PageSizePlugin: the preset has no schema.tenantgraphPages (src/config.ts sets them)');
  let hooks = hooksByPages.get(pages);
  if (!hooks) hooksByPages.set(pages, (hooks = pageHooks(pages)));
  return hooks;
}

export const PageSizePlugin: GraphileConfig.Plugin = {
  name: 'PageSizePlugin',
  version,
  description: 'A default page size for connections and a cap on groupedAggregates, as LIMITs in the SQL',
  after: ['PgFirstLastBeforeAfterArgsPlugin'],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field: (field, build, context) =>
        hooksFor(build).GraphQLObjectType_fields_field(field, build, context),
      GraphQLObjectType_fields_field_args: (args, build, context) =>
        hooksFor(build).GraphQLObjectType_fields_field_args(args, build, context),
    },
  },
};

// @graphile/pg-aggregates names the field through its inflector; "groupedAggregates" by default.
function groupedAggregatesFieldName(build: GraphileBuild.Build): string | undefined {
  const inflection = build.inflection as Partial<{
    groupedAggregatesContainerField(details: object): string;
  }>;
  return inflection.groupedAggregatesContainerField?.({});
}
