// What needs a superuser before migrations can run: the roles, and the database itself.
//
// The four roles tenantgraph runs with, created idempotently:
//
//   owner          owns every object; migrations run as it. BYPASSRLS so that the few
//                  SECURITY DEFINER helpers (e.g. "which tenant is this user in?") can
//                  read memberships without recursing into their own policies.
//   authenticator  the only role the API logs in as: LOGIN NOINHERIT, no privileges of
//                  its own; each request switches to one of the two visitor roles.
//   visitor        (app_user) a request with a verified token.
//   anonymous      (app_anonymous) a request without one.
import pg from 'pg';

export interface LoginRole {
  name: string;
  password: string;
}

export interface RolePlan {
  owner: LoginRole;
  authenticator: LoginRole;
  visitor: string;
  anonymous: string;
}

/** The login role (user and password) a connection string names. */
export function loginRoleOf(connectionString: string): LoginRole {
  const url = new URL(connectionString);
  return { name: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
}

// Statements about roles take no bind parameters, so the server quotes the names and
// passwords itself with format(%I, %L); nothing is spliced into SQL on this side.
export async function execFormatted(
  client: pg.ClientBase,
  template: string,
  ...args: string[]
): Promise<void> {
  const { rows } = await client.query<{ sql: string }>('select format($1, variadic $2::text[]) as sql', [
    template,
    args,
  ]);
  await client.query(rows[0]!.sql);
}

async function ensureRole(
  client: pg.ClientBase,
  name: string,
  attributes: string,
  password?: string,
): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [name]);
  if (rowCount === 0) await execFormatted(client, 'create role %I', name);
  await execFormatted(client, `alter role %I with ${attributes}`, name);
  if (password !== undefined) await execFormatted(client, 'alter role %I with password %L', name, password);
}

export function ensureRoles(rootUrl: string, plan: RolePlan): Promise<void> {
  return withClient(rootUrl, async (client) => {
    // Several test runs may bootstrap the same server at once.
    await client.query("select pg_advisory_lock(hashtext('tenantgraph:roles'))");
    const runtime = 'nosuperuser nocreatedb nocreaterole noreplication nobypassrls';
    await ensureRole(
      client,
      plan.owner.name,
      'login nosuperuser nocreatedb nocreaterole noreplication bypassrls',
      plan.owner.password,
    );
    await ensureRole(
      client,
      plan.authenticator.name,
      `login noinherit ${runtime}`,
      plan.authenticator.password,
    );
    await ensureRole(client, plan.visitor, `nologin ${runtime}`);
    await ensureRole(client, plan.anonymous, `nologin ${runtime}`);
    await execFormatted(client, 'grant %I, %I to %I', plan.visitor, plan.anonymous, plan.authenticator.name);
  });
}

/** One connection to `url` for the length of `fn`, closed however `fn` ends. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function databaseExists(rootUrl: string, name: string): Promise<boolean> {
  return withClient(rootUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  });
}

export function dropDatabase(rootUrl: string, name: string): Promise<void> {
  return withClient(rootUrl, (client) =>
    execFormatted(client, 'drop database if exists %I with (force)', name),
  );
}
