// A new database on a Citus cluster, ready for the migrations: the one step a cluster
// needs that one PostgreSQL does not (docs/citus.md).
//
// Citus keeps its metadata per database, so a database of ours needs, before the first
// migration: the roles on every node (roles are per node; Citus only propagates the
// ones created inside a Citus database), the database itself on every node, the citus
// extension in each, and the workers registered in the coordinator's copy. Then
// afterReset.sql runs on the coordinator (Citus carries its citext to the workers) and the
// migrations follow as on plain PostgreSQL; `app_private.distribute()` finds the
// extension and distributes.
//
// The cluster is named by a superuser URL of a database on the coordinator in which
// Citus already knows the workers (citus.sh's `tenantgraph`); the workers are reached
// with the same login.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { ensureRoles, execFormatted, withClient, type RolePlan } from './bootstrap.ts';
import { onDatabase } from './location.ts';
import { projectRoot } from '../project-root.ts';

export interface CitusNode {
  host: string;
  port: number;
}

/** A copy of `url` (same login and database) on another host and port. */
function onNode(url: string, node: CitusNode): string {
  const result = new URL(url);
  result.hostname = node.host;
  result.port = String(node.port);
  return result.toString();
}

/** The active primary workers the coordinator's database at `clusterUrl` knows. */
export function citusWorkers(clusterUrl: string): Promise<CitusNode[]> {
  return withClient(clusterUrl, async (client) => {
    const { rows } = await client.query<{ host: string; port: number }>(
      `select nodename as host, nodeport as port from pg_dist_node
       where groupid <> 0 and noderole = 'primary' and isactive order by nodeid`,
    );
    if (rows.length === 0)
      throw new Error(`No Citus workers are registered in ${new URL(clusterUrl).pathname}.`);
    return rows;
  });
}

/** afterReset.sql with graphile-migrate's placeholders filled in, names quoted by the server. */
async function afterResetSql(client: pg.ClientBase, database: string, roles: RolePlan): Promise<string> {
  const template = await readFile(`${projectRoot}migrations/afterReset.sql`, 'utf8');
  const { rows } = await client.query<{ database: string; owner: string; authenticator: string }>(
    'select quote_ident($1) as database, quote_ident($2) as owner, quote_ident($3) as authenticator',
    [database, roles.owner.name, roles.authenticator.name],
  );
  const names = rows[0]!;
  return template
    .replaceAll(':DATABASE_NAME', names.database)
    .replaceAll(':DATABASE_OWNER', names.owner)
    .replaceAll(':DATABASE_AUTHENTICATOR', names.authenticator);
}

/**
 * Creates `database` on the coordinator of `clusterUrl` and on every worker, with the
 * roles, the extension and the workers registered, and runs afterReset.sql on it: what
 * graphile-migrate's reset does on one PostgreSQL. Then migrate (not reset) it.
 */
export async function createCitusDatabase(
  clusterUrl: string,
  database: string,
  roles: RolePlan,
): Promise<void> {
  const coordinator = new URL(clusterUrl);
  const workers = await citusWorkers(clusterUrl);
  const nodes = [{ host: coordinator.hostname, port: Number(coordinator.port || 5432) }, ...workers];
  for (const node of nodes) {
    const nodeUrl = onNode(clusterUrl, node);
    await ensureRoles(nodeUrl, roles);
    await withClient(nodeUrl, (client) =>
      execFormatted(client, 'create database %I owner %I', database, roles.owner.name),
    );
    await withClient(onDatabase(nodeUrl, database), (client) => client.query('create extension citus'));
  }
  await withClient(onDatabase(clusterUrl, database), async (client) => {
    await client.query('select citus_set_coordinator_host($1, $2)', [nodes[0]!.host, nodes[0]!.port]);
    for (const worker of workers)
      await client.query('select citus_add_node($1, $2)', [worker.host, worker.port]);
    await client.query(await afterResetSql(client, database, roles));
  });
}

/** Drops `database` on the coordinator and on every worker. */
export async function dropCitusDatabase(clusterUrl: string, database: string): Promise<void> {
  const workers = await citusWorkers(clusterUrl);
  const coordinator = new URL(clusterUrl);
  const nodes = [{ host: coordinator.hostname, port: Number(coordinator.port || 5432) }, ...workers];
  for (const node of nodes) {
    await withClient(onNode(clusterUrl, node), (client) =>
      execFormatted(client, 'drop database if exists %I with (force)', database),
    );
  }
}

/**
 * Lets the request roles log in to `database` on the workers, and only there: Citus opens a request's
 * worker connections as the request's role (set_config('role') on the coordinator).
 * Run after the migrations' role bootstrap, which (from a Citus database) propagates
 * NOLOGIN to every node. The coordinator keeps them NOLOGIN; confine the workers' logins
 * to the cluster with pg_hba.conf (docs/citus.md).
 */
export async function letRequestRolesReachWorkers(
  clusterUrl: string,
  database: string,
  roles: RolePlan,
): Promise<void> {
  // CONNECT on the coordinator too (where NOLOGIN makes it moot): Citus keeps the
  // database's grants the same on every node and would take a worker-only grant back.
  await withClient(onDatabase(clusterUrl, database), async (client) => {
    for (const role of [roles.visitor, roles.anonymous])
      await execFormatted(client, 'grant connect on database %I to %I', database, role);
  });
  for (const worker of await citusWorkers(clusterUrl)) {
    await withClient(onNode(clusterUrl, worker), async (client) => {
      // On this node only: a worker's own role change is not propagated.
      await client.query('set citus.enable_alter_role_propagation = off');
      for (const role of [roles.visitor, roles.anonymous])
        await execFormatted(client, 'alter role %I login', role);
    });
  }
}
