// Who pays for a request: the verified tenant, else the signed-in user, else the client's
// IP. One function for every place that charges or shares by caller (the limits plugin's
// budgets and bulkheads, the database connections of src/request/work.ts, subscriptions'
// read slots), reading only the request's identity (src/auth/identify.ts): a token naming
// a tenant its user does not belong to is the user's, never that tenant's.
import type { Identity } from '../auth/claims.ts';

export function chargedKey(identity: Identity | null | undefined, clientIp: string | undefined): string {
  if (identity?.verifiedTenantId) return `tenant:${identity.verifiedTenantId}`;
  if (identity?.userId) return `user:${identity.userId}`;
  return `ip:${clientIp ?? 'unknown'}`;
}
