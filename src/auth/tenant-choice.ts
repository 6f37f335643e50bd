// Tenant switching: a signed-in user picks the tenant of each request with an
// `X-Tenant` header (a tenant id or slug); without it, the token's tenant claim applies.
// The choice is only a request: PostgreSQL verifies it exactly as it verifies a claim
// (current_tenant_id() selects nothing for a non-member), and budgets and logs use only
// the verified tenant. A slug is turned into an id among the user's own memberships
// (memberships.ts), so a stranger's slug selects nothing and reveals nothing.
import { CATALOGUE } from '../errors/catalogue.ts';
import { AuthError } from './errors.ts';

export const TENANT_HEADER = 'x-tenant';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A tenant named by its id (a claim, or X-Tenant) or by its slug (X-Tenant). */
export type TenantChoice = { readonly id: string } | { readonly slug: string };

/** What an X-Tenant header names; throws INVALID_TENANT for one that is neither an id nor a slug. */
export function tenantChoiceOf(header: string): TenantChoice {
  const value = header.trim();
  if (UUID.test(value)) return { id: value.toLowerCase() };
  if (!SLUG.test(value)) throw new AuthError('INVALID_TENANT', CATALOGUE.INVALID_TENANT.message);
  return { slug: value };
}
