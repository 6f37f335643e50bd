// Who pays for a request: the verified tenant, else the signed-in user, else the client's
// IP. One function for every place that charges or shares by caller (the limits plugin's
// budgets, the database connections of src/request/work.ts, subscriptions' read slots):
// a token naming a tenant its user does not belong to is the user's, never that tenant's.
import type { Identity } from '../auth/claims.ts';
import type { VerifyTenant } from './verified-tenant.ts';

export type ChargedKey = (
  identity: Identity | null | undefined,
  clientIp: string | undefined,
) => Promise<{ key: string; tenantId?: string }>;

export function createChargedKey(verifyTenant: VerifyTenant): ChargedKey {
  return async (identity, clientIp) => {
    const ip = `ip:${clientIp ?? 'unknown'}`;
    if (!identity) return { key: ip };
    const tenantId = await verifyTenant(identity);
    if (!tenantId) return { key: identity.userId ? `user:${identity.userId}` : ip };
    return { key: `tenant:${tenantId}`, tenantId };
  };
}
