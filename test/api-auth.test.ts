// Tokens at the HTTP edge: every way a JWT can be wrong gets its documented status and
// code before anything touches the database, each key kind accepts only its own
// algorithm, and a valid token for someone else's tenant sees and changes nothing there.
import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { isVerified } from '../src/auth/claims.ts';
import { TEST_SECRET, tokenFor, useApi, type TestApi, type TestApiOptions } from './support/api.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';

const database = inject('database');

// How we know a refused token never reached PostgreSQL. The server's pool is internal to
// it, so we watch from the database side instead: every server in this file logs in with
// an application_name of its own, and PostgreSQL stamps each backend's pg_stat_activity
// row with backend_start when a connection opens and query_start when a statement begins.
// A refusal must leave no backend of ours stamped after the request was sent: no new
// connection, no statement on a pooled one. Read as the superuser (who sees every
// session's stamps), compared with the database's own clock (no skew), and blind to the
// other test files running in parallel, which log in under other names. Connections
// closing (pool idle timeout) remove rows, so they cannot look like activity. The positive
// control below shows the probe does see the queries of an accepted token.
const APPLICATION_NAME = `tenantgraph-api-auth-test-${randomUUID().slice(0, 8)}`;
const authenticatorUrl = (() => {
  const url = new URL(database.authenticatorUrl);
  url.searchParams.set('application_name', APPLICATION_NAME);
  return url.toString();
})();

let monitor: pg.Client;

async function databaseClock(): Promise<string> {
  return (await monitor.query<{ now: string }>('select clock_timestamp()::text as now')).rows[0]!.now;
}

async function serverBackendsBusySince(since: string): Promise<number> {
  const { rows } = await monitor.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
     where application_name = $1 and (backend_start >= $2::timestamptz or query_start >= $2::timestamptz)`,
    [APPLICATION_NAME, since],
  );
  return rows[0]!.n;
}

// Adds to the caller's object rather than copying it: useApi reads its options when its
// beforeAll runs, so a describe can still fill in a verifier (a JWKS url) before then.
function useAuthApi(options: TestApiOptions = {}): TestApi {
  return useApi(Object.assign(options, { authenticatorUrl }));
}

let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  monitor = new pg.Client({
    connectionString: database.rootUrl,
    application_name: 'tenantgraph-api-auth-monitor',
  });
  await monitor.connect();
  [a, b] = await Promise.all([createTenant('auth-a'), createTenant('auth-b')]);
});

afterAll(() => monitor?.end());

const TENANT_VIEW = '{ products { totalCount } currentTenant { slug } }';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const seconds = () => Math.floor(Date.now() / 1000);

/** The full response of the tenant view, for exact assertions. */
async function tenantView(api: TestApi, token: string) {
  const { status, body } = await api.post({ query: TENANT_VIEW }, bearer(token));
  // What the token sees; extensions (the cost report) are not the point here.
  return { status, body: { data: body.data, ...(body.errors && { errors: body.errors }) } };
}

const sees = (tenant: TenantFixture) => ({
  status: 200,
  body: { data: { products: { totalCount: 2 }, currentTenant: { slug: tenant.slug } } },
});
const seesNothing = { status: 200, body: { data: { products: { totalCount: 0 }, currentTenant: null } } };

/** Asserts the request is answered `status`/`code` in the documented shape, and no query ran. */
async function expectRefused(api: TestApi, headers: Record<string, string>, code: string, status = 401) {
  const since = await databaseClock();
  const response = await api.post({ query: TENANT_VIEW }, headers);
  expect(response.status).toBe(status);
  expect(response.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code } }] });
  expect(response.headers.get('www-authenticate')).toBe(
    status === 401 ? 'Bearer error="invalid_token"' : null,
  );
  expect(await serverBackendsBusySince(since)).toBe(0);
}

/** A JWT put together by hand, as an attacker would: no library refuses to build it. */
function handMade(
  header: object,
  payload: object,
  sign: (signingInput: string) => string = () => '',
): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${part(header)}.${part(payload)}`;
  return `${signingInput}.${sign(signingInput)}`;
}

/** A's viewer acting in A: the claims every "otherwise valid" token below carries. */
const viewerClaims = () => ({ sub: a.users.viewer, tenant_id: a.id, iat: seconds(), exp: seconds() + 300 });

/** Signed with the test secret by hand: a token our minting code would never produce. */
const signedByHand = (payload: object, options: jwt.SignOptions = {}) =>
  jwt.sign(payload, TEST_SECRET, { algorithm: 'HS256', ...options });

async function startHttp(listener: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function closeHttp(server: Server | undefined): Promise<void> | undefined {
  if (!server) return undefined;
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('an HS256 secret (the default)', () => {
  const api = useAuthApi();

  test("a valid token sees its tenant's 2 products, and the probe sees its queries (positive control)", async () => {
    const since = await databaseClock();
    expect(await tenantView(api, tokenFor({ userId: a.users.viewer, tenantId: a.id }))).toEqual(sees(a));
    expect(await serverBackendsBusySince(since)).toBeGreaterThan(0);
  });

  test('an expired token is refused with TOKEN_EXPIRED', async () => {
    await expectRefused(
      api,
      bearer(tokenFor({ userId: a.users.viewer, tenantId: a.id }, { expiresIn: -60 })),
      'TOKEN_EXPIRED',
    );
  });

  test('a token whose nbf is in the future is refused with TOKEN_NOT_YET_VALID', async () => {
    await expectRefused(api, bearer(signedByHand(viewerClaims(), { notBefore: 60 })), 'TOKEN_NOT_YET_VALID');
  });

  test('a token signed with another secret is refused', async () => {
    const forged = tokenFor({ userId: a.users.viewer, tenantId: a.id }, { secret: `${TEST_SECRET}-guessed` });
    await expectRefused(api, bearer(forged), 'UNAUTHENTICATED');
  });

  test('an unsigned token (alg: none) is refused', async () => {
    await expectRefused(
      api,
      bearer(handMade({ alg: 'none', typ: 'JWT' }, viewerClaims())),
      'UNAUTHENTICATED',
    );
  });

  test('a correctly signed token without exp is refused', async () => {
    const eternal = signedByHand({ sub: a.users.viewer, tenant_id: a.id });
    expect(jwt.decode(eternal)).not.toHaveProperty('exp');
    await expectRefused(api, bearer(eternal), 'UNAUTHENTICATED');
  });

  test('a correctly signed token naming its own key (jku) is refused', async () => {
    const token = signedByHand(viewerClaims(), {
      header: { alg: 'HS256', jku: 'https://attacker.example/jwks.json' },
    });
    await expectRefused(api, bearer(token), 'UNAUTHENTICATED');
  });

  test.each([
    ['a malformed token', 'Bearer not-a-jwt'],
    ['three dotted parts that are not JSON', 'Bearer aaa.bbb.ccc'],
    [
      'a truncated signature',
      () => `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id }).slice(0, -4)}`,
    ],
    [
      'two tokens',
      () => `Bearer ${tokenFor({ userId: a.users.viewer })} ${tokenFor({ userId: a.users.viewer })}`,
    ],
    ['Basic credentials', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a token without the Bearer scheme', () => tokenFor({ userId: a.users.viewer, tenantId: a.id })],
  ])('%s in the Authorization header is refused', async (_name, header) => {
    await expectRefused(
      api,
      { authorization: typeof header === 'string' ? header : header() },
      'UNAUTHENTICATED',
    );
  });

  test.each([
    ['no sub', () => signedByHand({ tenant_id: a.id, exp: seconds() + 300 })],
    [
      'a sub that is not a uuid',
      () => tokenFor({ userId: 'auth0|5f7c8ec7c33c6c004bbafe82', tenantId: a.id }),
    ],
    ['a tenant claim that is not a uuid', () => tokenFor({ userId: a.users.viewer, tenantId: 'acme' })],
    ['a tenant claim that is SQL', () => tokenFor({ userId: a.users.viewer, tenantId: "' or 1=1 --" })],
  ])('a verified token with %s is refused with INVALID_CLAIMS', async (_name, token) => {
    await expectRefused(api, bearer(token()), 'INVALID_CLAIMS');
  });

  test('a valid token naming a tenant its user is not a member of sees nothing there (HTTP 200)', async () => {
    expect(await tenantView(api, tokenFor({ userId: b.users.owner, tenantId: a.id }))).toEqual(seesNothing);
  });

  test('a valid token naming a tenant its user is not a member of cannot create a product there', async () => {
    const before = await snapshot(a.id);
    const { status, body } = await api.post(
      { query: 'mutation { createProduct(input: { name: "planted", price: "1" }) { product { name } } }' },
      bearer(tokenFor({ userId: b.users.owner, tenantId: a.id })),
    );
    // Executed, so 200 (GraphQL over HTTP), with the refusal's code.
    expect(status).toBe(200);
    expect(body.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual([
      'FORBIDDEN',
    ]);
    expect(body.data).toEqual({ createProduct: null });
    expect(await snapshot(a.id)).toEqual(before);
  });

  test('no token at all is anonymous: products are FORBIDDEN (an executed operation: HTTP 200)', async () => {
    const { status, body } = await api.post({ query: '{ products { totalCount } }' });
    expect(status).toBe(200);
    expect(body.errors).toEqual([
      expect.objectContaining({ path: ['products', 'totalCount'], extensions: { code: 'FORBIDDEN' } }),
    ]);
    expect(body.data).toEqual({ products: null });
  });
});

describe('email_verified as identity providers send it', () => {
  const api = useAuthApi();
  const signUp = async (value: unknown) => {
    const userId = randomUUID();
    const email = `verified-${userId.slice(0, 8)}@example.test`;
    const claims = { sub: userId, email, exp: seconds() + 300 };
    const token = signedByHand(value === undefined ? claims : { ...claims, email_verified: value });
    const created = await api.post(
      {
        query:
          'mutation ($slug: String!) { createTenant(input: { name: "Verified?", slug: $slug }) { tenant { slug } } }',
        variables: { slug: `verified-${userId.slice(0, 8)}` },
      },
      bearer(token),
    );
    expect(created.body.errors).toBeUndefined();
    const { body } = await api.post({ query: '{ currentUser { email } }' }, bearer(token));
    return { email, stored: body.data.currentUser.email };
  };

  // OpenID Connect's boolean, and AWS Cognito's string "true" (it sends every attribute as
  // a string); anything looser would be a guess in the attacker's favour.
  test.each([[true], ['true']])('email_verified %j: the address is taken as verified', async (value) => {
    const { email, stored } = await signUp(value);
    expect(stored).toBe(email);
  });

  test.each([[false], ['false'], ['True'], ['TRUE'], [1], ['1'], ['yes'], [null], [{}], [undefined]])(
    'email_verified %j: the address is not taken',
    async (value) => {
      expect((await signUp(value)).stored).toBeNull();
    },
  );

  test('the configuration reference says what counts, as the code does', async () => {
    const reference = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    const row = reference.split('\n').find((line) => line.startsWith('| `JWT_EMAIL_VERIFIED_CLAIM`'));
    expect(row).toContain('`true`');
    expect(row).toContain('`"true"`');
    expect([true, 'true', 'True', 1].map(isVerified)).toEqual([true, true, false, false]);
  });
});

describe('an issuer and an audience configured', () => {
  const issuer = 'https://id.example.test/';
  const audience = 'tenantgraph-api';
  const api = useAuthApi({ verifier: { issuer, audience } });
  const token = (options: { issuer?: string; audience?: string }) =>
    tokenFor({ userId: a.users.viewer, tenantId: a.id }, options);

  test('a token from that issuer for that audience passes', async () => {
    expect(await tenantView(api, token({ issuer, audience }))).toEqual(sees(a));
  });

  test.each([
    ['another issuer', { issuer: 'https://attacker.example/', audience }],
    ['another audience', { issuer, audience: 'some-other-api' }],
    ['no issuer', { audience }],
    ['no audience', { issuer }],
  ])('a token with %s is refused', async (_name, options) => {
    await expectRefused(api, bearer(token(options)), 'UNAUTHENTICATED');
  });
});

describe('a namespaced tenant claim configured', () => {
  const tenantClaim = 'https://example.com/tenant_id';
  const api = useAuthApi({
    claimNames: { tenant: tenantClaim, email: 'email', emailVerified: 'email_verified' },
  });

  test('the namespaced claim selects the tenant', async () => {
    expect(
      await tenantView(api, tokenFor({ userId: a.users.viewer, tenantId: a.id }, { tenantClaim })),
    ).toEqual(sees(a));
  });

  test('a plain tenant_id claim is not read in its place', async () => {
    expect(await tenantView(api, tokenFor({ userId: a.users.viewer, tenantId: a.id }))).toEqual(seesNothing);
  });
});

describe('an RSA public key (RS256 only)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const api = useAuthApi({ verifier: { key: { kind: 'publicKey', pem } } });
  const rs256 = (privateKey: KeyObject, header: Record<string, unknown> = {}) =>
    jwt.sign(viewerClaims(), privateKey, {
      algorithm: 'RS256',
      header: { alg: 'RS256', ...header } as jwt.JwtHeader,
    });

  test('an RS256 token signed with the matching private key passes', async () => {
    expect(await tenantView(api, rs256(rsa.privateKey))).toEqual(sees(a));
  });

  test('an RS256 token signed with another RSA key is refused', async () => {
    await expectRefused(
      api,
      bearer(rs256(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)),
      'UNAUTHENTICATED',
    );
  });

  test('an HS256 token whose HMAC secret is the public key PEM is refused (HS/RS confusion)', async () => {
    const confused = handMade({ alg: 'HS256', typ: 'JWT' }, viewerClaims(), (input) =>
      createHmac('sha256', pem).update(input).digest('base64url'),
    );
    await expectRefused(api, bearer(confused), 'UNAUTHENTICATED');
  });

  // Signed with the configured key, so the header alone is what refuses them.
  test.each([
    ['jku', () => 'https://attacker.example/jwks.json'],
    ['x5u', () => 'https://attacker.example/cert.pem'],
    ['jwk', () => ({ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'embedded' })],
    ['x5c', () => [rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')]],
  ])('a correctly signed token carrying a %s header is refused', async (name, value) => {
    await expectRefused(api, bearer(rs256(rsa.privateKey, { [name]: value() })), 'UNAUTHENTICATED');
  });
});

describe('an EC P-256 public key (ES256 only)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const api = useAuthApi({
    verifier: {
      key: { kind: 'publicKey', pem: ec.publicKey.export({ type: 'spki', format: 'pem' }) as string },
    },
  });
  const es256 = (privateKey: KeyObject) => jwt.sign(viewerClaims(), privateKey, { algorithm: 'ES256' });

  test('an ES256 token signed with the matching private key passes', async () => {
    expect(await tenantView(api, es256(ec.privateKey))).toEqual(sees(a));
  });

  test('an ES256 token signed with another P-256 key is refused', async () => {
    await expectRefused(
      api,
      bearer(es256(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)),
      'UNAUTHENTICATED',
    );
  });
});

describe('keys from a JWKS endpoint', () => {
  const signingKey = (kid: string) => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      kid,
      privateKey,
      jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    };
  };
  const k1 = signingKey('k1');
  const k2 = signingKey('k2');
  const served = [k1.jwk];
  const options: TestApiOptions = {};
  let jwks: Server | undefined;

  // Registered before useAuthApi's hooks: the endpoint is up before the API starts and
  // stops after it.
  beforeAll(async () => {
    const started = await startHttp((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    });
    jwks = started.server;
    options.verifier = { key: { kind: 'jwks', url: `${started.url}/.well-known/jwks.json` } };
  });
  afterAll(() => closeHttp(jwks));
  const api = useAuthApi(options);

  const signedWith = (key: { kid: string; privateKey: KeyObject }) =>
    jwt.sign(viewerClaims(), key.privateKey, { algorithm: 'RS256', keyid: key.kid });

  test('a token signed with the served key k1 passes', async () => {
    expect(await tenantView(api, signedWith(k1))).toEqual(sees(a));
  });

  test('a key added by rotation (k2) is picked up without a restart, and k1 still passes', async () => {
    await expectRefused(api, bearer(signedWith(k2)), 'UNAUTHENTICATED');
    served.push(k2.jwk);
    expect(await tenantView(api, signedWith(k2))).toEqual(sees(a));
    expect(await tenantView(api, signedWith(k1))).toEqual(sees(a));
  });

  test('a token whose kid the endpoint does not serve is refused', async () => {
    await expectRefused(api, bearer(signedWith({ kid: 'k3', privateKey: k1.privateKey })), 'UNAUTHENTICATED');
  });
});

describe('a JWKS endpoint that is down', () => {
  const options: TestApiOptions = {};
  let jwks: Server | undefined;
  beforeAll(async () => {
    const started = await startHttp((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    jwks = started.server;
    options.verifier = { key: { kind: 'jwks', url: `${started.url}/.well-known/jwks.json` } };
  });
  afterAll(() => closeHttp(jwks));
  const api = useAuthApi(options);

  test('a token is answered 503 AUTH_PROVIDER_UNAVAILABLE, not 401', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expectRefused(
      api,
      bearer(jwt.sign(viewerClaims(), privateKey, { algorithm: 'RS256', keyid: 'k1' })),
      'AUTH_PROVIDER_UNAVAILABLE',
      503,
    );
  });
});
