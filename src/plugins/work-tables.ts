// What the cost walker (src/limits/cost.ts, work.ts) needs to price an operation by the
// rows it reads, and the filters it must not offer unpriced:
//
// - every connection type and every table filter input names the table it reads in
//   `extensions.tenantgraph.table` ("app_public.products"), so the walker can look up the
//   tenant's row count of that table (table-rows.ts) for `totalCount`, aggregates and
//   filters that read the whole tenant;
// - relation filters (`filter: {category: {...}}`, `filter: {products: {some: ...}}` and
//   the aggregate filters inside them) are off: they run a correlated sub-query per row,
//   measured at ~10,000x the database time per point of a normal list. A relation opts
//   in with `@behavior +filterBy` on its foreign key constraint (or on the table it
//   leads to); the walker then prices it per row read (work.ts).
import { version } from '../version.ts';

export interface WorkTableExtension {
  /** The table behind a connection or a filter, schema-qualified. */
  table: string;
}

declare module 'graphql' {
  interface GraphQLObjectTypeExtensions {
    tenantgraph?: WorkTableExtension;
  }
  interface GraphQLInputObjectTypeExtensions {
    tenantgraph?: WorkTableExtension;
  }
}

interface TableCodec {
  attributes?: unknown;
  extensions?: { pg?: { schemaName?: string; name?: string } };
}

function tableOf(codec: TableCodec | undefined): WorkTableExtension | undefined {
  const pg = codec?.attributes ? codec.extensions?.pg : undefined;
  return pg?.schemaName && pg.name ? { table: `${pg.schemaName}.${pg.name}` } : undefined;
}

export const WorkTablesPlugin: GraphileConfig.Plugin = {
  name: 'WorkTablesPlugin',
  version,
  after: ['PgConnectionArgFilterForwardRelationsPlugin', 'PgConnectionArgFilterBackwardRelationsPlugin'],
  schema: {
    entityBehavior: {
      pgCodecRelation: {
        inferred: {
          after: ['inferred', 'default'],
          provides: ['noRelationFilters'],
          // Before the smart tags (the `override` behaviors), so `@behavior +filterBy` wins.
          callback: (behavior) => [behavior, '-filterBy'],
        },
      },
    },
    hooks: {
      GraphQLObjectType(config, _build, context) {
        const scope = context.scope as { isConnectionType?: boolean; pgCodec?: TableCodec };
        const work = scope.isConnectionType ? tableOf(scope.pgCodec) : undefined;
        return work ? { ...config, extensions: { ...config.extensions, tenantgraph: work } } : config;
      },
      GraphQLInputObjectType(config, _build, context) {
        const scope = context.scope as { isPgConnectionFilter?: boolean; pgCodec?: TableCodec };
        const work = scope.isPgConnectionFilter ? tableOf(scope.pgCodec) : undefined;
        return work ? { ...config, extensions: { ...config.extensions, tenantgraph: work } } : config;
      },
    },
  },
};
