// Step 4, identity: one `identify` for every transport (src/auth/identify.ts), run on the
// GraphQL path and the export downloads here, and at the websocket handshake (realtime).
// What it gives each request is its identity, verified tenant included, made once and
// frozen: budgets, bulkheads, connection shares, logs and metrics all read that.
import type express from 'express';
import type pg from 'pg';
import { authenticate } from '../auth/authenticate.ts';
import { createIdentities, type Identities } from '../auth/identify.ts';
import type { VerifyToken } from '../auth/verify-token.ts';
import type { DatabaseGate } from '../http/database-gate.ts';
import { EXPORTS_PATH } from '../http/exports.ts';
import type { TenantgraphOptions } from '../options.ts';
import { GRAPHQL_PATH } from '../plugins/preset.ts';

export function installIdentity(
  app: express.Express,
  {
    pool,
    gate,
    verifyToken,
    tenantgraph: options,
  }: { pool: pg.Pool; gate: DatabaseGate; verifyToken: VerifyToken; tenantgraph: TenantgraphOptions },
): Identities {
  const identities = createIdentities({
    pool,
    verifyToken,
    claimNames: options.claimNames,
    membershipCacheSeconds: options.membershipCacheSeconds,
    apiKeyCacheSeconds: options.apiKeyCacheSeconds,
  });
  app.use([GRAPHQL_PATH, EXPORTS_PATH], authenticate(identities.identify, gate));
  return identities;
}
