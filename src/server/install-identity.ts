// Step 4, identity: one `identify` for every transport (src/auth/identify.ts), run on the
// GraphQL path and the export downloads here, and at the websocket handshake (realtime).
import type express from 'express';
import type pg from 'pg';
import { createApiKeyVerifier } from '../auth/api-keys.ts';
import { authenticate } from '../auth/authenticate.ts';
import { createIdentify, type Identify } from '../auth/identify.ts';
import { createTenantChoice } from '../auth/tenant-choice.ts';
import type { VerifyToken } from '../auth/verify-token.ts';
import { EXPORTS_PATH } from '../http/exports.ts';
import type { TenantgraphOptions } from '../options.ts';
import { GRAPHQL_PATH } from '../plugins/preset.ts';

export function installIdentity(
  app: express.Express,
  {
    pool,
    verifyToken,
    tenantgraph: options,
  }: { pool: pg.Pool; verifyToken: VerifyToken; tenantgraph: TenantgraphOptions },
): Identify {
  const identify = createIdentify({
    verifyToken,
    claimNames: options.claimNames,
    chooseTenant: createTenantChoice(pool, options.membershipCacheSeconds),
    verifyApiKey: createApiKeyVerifier(pool, options.apiKeyCacheSeconds),
  });
  app.use([GRAPHQL_PATH, EXPORTS_PATH], authenticate(identify));
  return identify;
}
