// `npm run token -- --tenant acme --user alice@acme.test [--expires 1h]`
// Mints a development token (HS256) for a user, optionally acting in a tenant.
// Slugs and emails are looked up in the database; uuids are used as they are.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { keySourceFor } from '../auth/key-source.ts';
import { loadDotEnv, readEnv } from '../config.ts';
import { locateDatabase } from '../database/location.ts';
import { mintDevToken } from '../dev/mint-token.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    tenant: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});
if (!values.user) fail('Usage: npm run token -- --user <email or uuid> [--tenant <slug or uuid>] [--expires 12h]');

loadDotEnv();
const env = readEnv();
if (env.NODE_ENV === 'production') fail('Refusing to mint development tokens when NODE_ENV=production.');
const key = await keySourceFor(env);
if (key.kind !== 'secret') fail('Tokens are verified with a public key or JWKS here: get them from your identity provider.');

let userId = values.user;
let tenantId = values.tenant;
let email: string | undefined;
if (!UUID.test(userId) || (tenantId && !UUID.test(tenantId))) {
  const location = await locateDatabase(env);
  const client = new pg.Client({ connectionString: location.ownerUrl });
  try {
    await client.connect();
    if (!UUID.test(userId)) {
      const { rows } = await client.query<{ id: string; email: string }>('select id, email from app_public.users where email = $1', [userId]);
      if (!rows[0]) fail(`No user with email ${userId}.`);
      ({ id: userId, email } = rows[0]);
    }
    if (tenantId && !UUID.test(tenantId)) {
      const { rows } = await client.query<{ id: string }>('select id from app_public.tenants where slug = $1', [tenantId]);
      if (!rows[0]) fail(`No tenant with slug ${tenantId}.`);
      tenantId = rows[0].id;
    }
  } finally {
    await client.end();
    await location.stop();
  }
}

const token = mintDevToken(key.secret, { userId, tenantId, email }, { tenantClaim: env.JWT_TENANT_CLAIM, expiresIn: values.expires as '12h' });
process.stdout.write(`{"Authorization": "Bearer ${token}"}\n`);
