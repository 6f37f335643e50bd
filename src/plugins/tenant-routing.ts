// Router queries on Citus: every select of a tenant table also says
// `tenant_id = $n`, with $n the request's verified tenant (identity.verifiedTenantId,
// src/auth/identify.ts), so Citus sends the query to that tenant's one shard instead of
// fanning it out to every shard (issue 24; FIELD-NOTES: only an explicit
// `tenant_id = <value>` routes, a filter through a STABLE helper such as the policies'
// current_tenant_id() fans out).
//
// Why this is not tenant filtering in application code: RLS stays the isolation. The
// condition only narrows, and only to the tenant PostgreSQL itself accepts for the
// request: the policies of every table it applies to already require
// `tenant_id = current_tenant_id()`, and current_tenant_id() is the tenant the API
// verified (membership or API key), so on plain PostgreSQL the rows are the same and
// the planner sees one more equality on the leading key column. Only the verified
// tenant is used, never the claimed one (a token's claim or X-Tenant that no
// membership confirmed); a request without a verified tenant gets no condition, and RLS
// decides alone as before.
//
// How: PostGraphile's resources have `selectAuth`, called by @dataplan/pg for every
// pgSelect of the resource before it is deduplicated (connections, rows by node id,
// relations inlined as joins or run as their own query, aggregates, the records a
// mutation's payload selects). The condition is a deferred SQL fragment chosen per
// request from the context's identity (one operation plan serves every request):
// `true` without a verified tenant, `alias.tenant_id = $n` with it, the value bound as
// a query parameter, never interpolated. The GraphQL schema does not change.
//
// Not covered: rows a function returns (@dataplan/pg copies a table's selectAuth onto
// the functions returning its rows; they are skipped, since what a function reads is
// its own SQL), memberships (CROSS_TENANT_TABLES), and update/delete by node id, which
// @dataplan/pg writes from the row's key: every key of a tenant table leads with
// tenant_id, so those already say `tenant_id = $n`, with the node id's tenant (RLS
// refuses any other).
import type { PgSelectStep } from '@dataplan/pg';
import { context, lambda } from 'grafast';
import { sql, type SQL } from 'postgraphile/pg-sql2';
import type { Identity } from '../auth/claims.ts';
import { version } from '../version.ts';

/**
 * Tenant tables whose select policy also shows rows of other tenants: memberships
 * (`tenant_id = current_tenant_id() or user_id = current_user_id()`: a user's own
 * memberships in every tenant). A tenant filter there would not only route but hide
 * rows, so they keep fanning out on Citus. test/tenant-routing.test.ts checks this list
 * against the policies.
 */
export const CROSS_TENANT_TABLES: ReadonlySet<string> = new Set(['app_public.memberships']);

/** The tenant a request's queries are routed to: the verified one, or none. */
export function routingTenantOf(identity: Identity | null | undefined): string | undefined {
  return identity?.verifiedTenantId;
}

function routeToVerifiedTenant($select: PgSelectStep): void {
  // A function's rows (its resource has parameters) are what its own SQL reads.
  if ($select.resource.parameters) return;
  const alias = $select.alias;
  const $condition = lambda(
    context().get('identity'),
    (identity): SQL => {
      const tenantId = routingTenantOf(identity as Identity | null | undefined);
      return tenantId === undefined ? sql.true : sql`${alias}.tenant_id = ${sql.value(tenantId)}::uuid`;
    },
    true,
  );
  $select.where($select.deferredSQL($condition));
}

export const TenantRoutingPlugin: GraphileConfig.Plugin = {
  name: 'TenantRoutingPlugin',
  description:
    'Adds `tenant_id = <verified tenant>` to every select of a tenant table, so Citus routes it to one shard',
  version,
  gather: {
    hooks: {
      pgTables_PgResourceOptions(_info, { pgClass, resourceOptions }) {
        if (pgClass.relkind !== 'r' && pgClass.relkind !== 'p') return;
        const hasTenantId = pgClass
          .getAttributes()
          .some((attribute) => attribute.attname === 'tenant_id' && !attribute.attisdropped);
        const table = `${pgClass.getNamespace()?.nspname}.${pgClass.relname}`;
        if (!hasTenantId || CROSS_TENANT_TABLES.has(table)) return;
        resourceOptions.selectAuth = routeToVerifiedTenant;
      },
    },
  },
};
