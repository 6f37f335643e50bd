// `npm run token -- --user alice@acme.test [--tenant acme] [--email …] [--email-verified]`
// Mints a development token (HS256) for a user, optionally acting in a tenant.
// Slugs and emails are looked up in the database; uuids are used as they are.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { keySourceFor } from '../auth/key-source.ts';
import { loadDotEnv, readEnv } from '../config.ts';
import { mintDevToken } from '../dev/mint-token.ts';
import { locateDatabaseOrExit } from './locate-database.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const USAGE = `Usage: npm run token -- --user <email or uuid> [options]

Mints a development token (HS256, signed with the development secret) and prints it as
an Authorization header for GraphiQL. Development only.

  --user <email or uuid>   the user (the token's sub); an email is looked up
  --tenant <slug or uuid>  the tenant claim (or pick per request with X-Tenant)
  --email <address>        the email claim (default: the user's, when looked up)
  --email-verified         mark the email as verified by the identity provider
                           (accepting invitations needs it; looked-up users have it)
  --expires <duration>     e.g. 30m, 12h (default 12h)
  --help                   this text

A new person (no account yet) who was invited:
  npm run token -- --user $(node -e 'console.log(crypto.randomUUID())') --email them@example.com --email-verified`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      user: { type: 'string' },
      tenant: { type: 'string' },
      email: { type: 'string' },
      'email-verified': { type: 'boolean', default: false },
      expires: { type: 'string', default: '12h' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.user) fail(USAGE);

loadDotEnv();
const env = readEnv();
if (env.NODE_ENV === 'production') fail('Refusing to mint development tokens when NODE_ENV=production.');
const key = await keySourceFor(env);
if (key.kind !== 'secret')
  fail('Tokens are verified with a public key or JWKS here: get them from your identity provider.');

let userId = values.user;
let tenantId = values.tenant;
let email = values.email;
let emailVerified = values['email-verified'];
if (!UUID.test(userId) || (tenantId && !UUID.test(tenantId))) {
  const location = await locateDatabaseOrExit(env);
  const client = new pg.Client({ connectionString: location.ownerUrl });
  try {
    await client.connect();
    if (!UUID.test(userId)) {
      const { rows } = await client.query<{ id: string; email: string }>(
        'select id, email from app_public.users where email = $1',
        [userId],
      );
      if (!rows[0])
        fail(
          `No user with email ${userId}. For someone without an account, pass a new uuid as --user with --email.`,
        );
      userId = rows[0].id;
      // Addresses in the users table came from verified claims.
      if (!email) [email, emailVerified] = [rows[0].email, true];
    }
    if (tenantId && !UUID.test(tenantId)) {
      const { rows } = await client.query<{ id: string }>(
        'select id from app_public.tenants where slug = $1',
        [tenantId],
      );
      if (!rows[0]) fail(`No tenant with slug ${tenantId}.`);
      tenantId = rows[0].id;
    }
  } finally {
    await client.end();
    await location.stop();
  }
}

const token = mintDevToken(
  key.secret,
  { userId, tenantId, email, emailVerified },
  {
    tenantClaim: env.JWT_TENANT_CLAIM,
    expiresIn: values.expires as '12h',
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
  },
);
process.stdout.write(`{"Authorization": "Bearer ${token}"}\n`);
