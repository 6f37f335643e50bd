// Rows of tenant tables are addressed by global id (`productById(id:)`,
// `updateProductById`), never by a key that makes the client name a tenant: every
// unique key of a tenant table includes tenant_id, so PostGraphile would otherwise
// offer `product(tenantId:, rowId:)`, `updateProduct(input: { tenantId, rowId })` and
// the like, putting tenantId into inputs. This hides those lookups for every unique
// key that includes tenant_id, for today's tables and the ones DBAs add later.
import { version } from '../version.ts';

export const TenantScopedKeysPlugin: GraphileConfig.Plugin = {
  name: 'TenantScopedKeysPlugin',
  version,
  schema: {
    entityBehavior: {
      pgResourceUnique: {
        inferred: {
          after: ['inferred'],
          provides: ['tenantScopedKeys'],
          callback(behavior, [, unique]) {
            return unique.attributes.includes('tenant_id')
              ? [behavior, '-single', '-constraint:resource:update', '-constraint:resource:delete']
              : behavior;
          },
        },
      },
    },
  },
};
