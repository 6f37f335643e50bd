// A real API server on a random port, over the run's test database, and clients that
// talk to it over real HTTP, as a frontend would.
import { randomBytes } from 'node:crypto';
import { GraphQLClient } from 'graphql-request';
import pino from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { createTokenVerifier, type VerifierOptions } from '../../src/auth/verify-token.ts';
import { presetFromEnv, readEnv } from '../../src/config.ts';
import { startDevTools, type DevTools } from '../../src/dev/dev-tools.ts';
import { mintDevToken, type DevTokenClaims, type MintOptions } from '../../src/dev/mint-token.ts';
import type { PageLimits } from '../../src/limits/cost.ts';
import type { TenantgraphOptions } from '../../src/options.ts';
import { developmentPreset } from '../../src/plugins/development.ts';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../src/server.ts';

const database = inject('database');

export const TEST_SECRET = randomBytes(32).toString('hex');
/** The API's default JWT_TENANT_CLAIM, which test servers use unless a test configures another. */
export const TENANT_CLAIM = readEnv({}).JWT_TENANT_CLAIM;

export interface TestApi {
  server: ApiServer;
  url: string;
  /** A graphql-request client; with a token, as that user. */
  client(token?: string): GraphQLClient;
  /** A raw POST to /graphql, for status codes and hostile bodies. */
  post(
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

/** What a test may override: the runtime's options and any tenantgraph option, nested ones in part. */
export type TestApiOptions = Partial<Omit<ApiServerOptions, 'preset' | 'verifyToken' | 'devTools'>> &
  Partial<Omit<TenantgraphOptions, 'limits' | 'concurrency' | 'work' | 'services'>> & {
    /** Mount the development tools, as `npm start` does in development: /dev/demo-users and the web app at /app/. */
    devTools?: boolean;
    verifier?: Partial<VerifierOptions>;
    /** What NODE_ENV=development adds to the preset (explain on request, GraphiQL's hint). */
    development?: boolean;
    /** grafserv's options. */
    graphiql?: boolean;
    host?: string;
    port?: number;
    limits?: Partial<TenantgraphOptions['limits']>;
    pages?: Partial<PageLimits>;
    concurrency?: Partial<TenantgraphOptions['concurrency']>;
    work?: Partial<TenantgraphOptions['work']>;
  };

/**
 * For tests of the estimate's own figures (cost.ts): database time priced so low that it
 * never outweighs an estimate, however loaded the machine running the tests is.
 */
export const PRICED_BY_ESTIMATE = { pointsPerDatabaseMs: 0.001 } as const;

/** The production defaults, as presetFromEnv gives them, that test servers start from. */
const productionPreset = presetFromEnv(
  readEnv({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, TRUSTED_DOCUMENTS: 'off' }),
);

/** A test server's options: the production defaults over the run's database, with `options` applied. */
export function testServerOptions(options: Omit<TestApiOptions, 'devTools'> = {}): ApiServerOptions {
  const {
    verifier,
    authenticatorUrl = database.authenticatorUrl,
    logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    watch,
    observability,
    development,
    graphiql,
    host,
    port = 0,
    limits,
    pages,
    concurrency,
    work,
    ...tenantgraph
  } = options;
  const defaults = productionPreset.tenantgraph!;
  return {
    // The defaults a production deployment gets, on a random loopback port; but any
    // operation runs (tests send their own), unless a test configures trusted documents.
    preset: {
      extends: [productionPreset, ...(development !== undefined ? [developmentPreset(development)] : [])],
      grafserv: { port, ...(host !== undefined && { host }), ...(graphiql !== undefined && { graphiql }) },
      schema: { tenantgraphPages: { ...productionPreset.schema!.tenantgraphPages!, ...pages } },
      tenantgraph: {
        roles: { visitor: database.visitor, anonymous: database.anonymous },
        ...tenantgraph,
        limits: { ...defaults.limits!, ...limits },
        concurrency: { ...defaults.concurrency!, ...concurrency },
        work: { ...defaults.work!, ...work },
      },
    },
    authenticatorUrl,
    verifyToken: createTokenVerifier({
      key: { kind: 'secret', secret: TEST_SECRET },
      clockToleranceSeconds: 0,
      ...verifier,
    }),
    logger,
    watch,
    observability,
  };
}

/** Starts a server for the current test file (stopped after it) and returns its handle. */
export function useApi(options: TestApiOptions = {}): TestApi {
  const api = {} as TestApi;
  let devTools: DevTools | undefined;
  beforeAll(async () => {
    const { devTools: withDevTools, ...serverOptions } = options;
    const base = testServerOptions(serverOptions);
    devTools = withDevTools
      ? await startDevTools({
          tokenSecret: TEST_SECRET,
          tenantClaim: serverOptions.claimNames?.tenant ?? TENANT_CLAIM,
          webApp: { hot: false },
        })
      : undefined;
    const server = await startApiServer({ ...base, devTools: devTools?.router });
    Object.assign(api, {
      server,
      url: server.url,
      client: (token?: string) =>
        new GraphQLClient(`${server.url}/graphql`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        }),
      post: async (body: unknown, headers: Record<string, string> = {}) => {
        const response = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON (an HTML error page, a hostile body echoed): the test reads the text.
        }
        return { status: response.status, body: parsed, headers: response.headers };
      },
    });
  });
  afterAll(async () => {
    await api.server?.close();
    await devTools?.close();
  });
  return api;
}

export type TokenClaims = DevTokenClaims;

/**
 * A token as `npm run token` and the development tools mint it (src/dev/mint-token.ts),
 * signed with the test secret, for the default tenant claim, valid for 5 minutes unless
 * `options` say otherwise. Tokens no code of ours would mint (forged, without `sub` or
 * `exp`, other algorithms) are signed by hand in the tests that send them.
 */
export function tokenFor(
  claims: TokenClaims,
  options: Partial<MintOptions> & { secret?: string } = {},
): string {
  const { secret = TEST_SECRET, ...mint } = options;
  return mintDevToken(secret, claims, { tenantClaim: TENANT_CLAIM, expiresIn: '5m', ...mint });
}

/** GraphQL errors of a graphql-request call that failed, as the client sees them. */
export async function graphqlErrors(
  promise: Promise<unknown>,
): Promise<Array<{ message: string; extensions?: { code?: string } }>> {
  try {
    await promise;
  } catch (error) {
    const response = (
      error as { response?: { errors?: Array<{ message: string; extensions?: { code?: string } }> } }
    ).response;
    if (response?.errors) return response.errors;
    throw error;
  }
  throw new Error('expected GraphQL errors, but the request succeeded');
}
