// Where the benchmark's data lives: databases of their own (tenantgraph_bench by
// default) on the same PostgreSQL as development, the embedded cluster unless
// DATABASE_URL says otherwise. The development database `tenantgraph` is never touched.
import pg from 'pg';
import { loadDotEnv, readEnv, type Env } from '../../src/config.ts';
import { databaseExists, dropDatabase } from '../../src/database/bootstrap.ts';
import { databaseOn, locateDatabase, type DatabaseLocation } from '../../src/database/location.ts';
import { databaseNameOf, prepareDatabase } from '../../src/database/migrations.ts';

export const BENCH_DATABASE = 'tenantgraph_bench';
/** The 100-tenant database of the scale comparison; the harness loads it when missing. */
export const SMALL_BENCH_DATABASE = 'tenantgraph_bench_100';

export interface BenchServer {
  env: Env;
  rootUrl: string;
  /** The embedded cluster's data folder, or undefined for a server named by DATABASE_URL. */
  dataDir: string | undefined;
  /** The location (owner, authenticator URLs) of one database on this server. */
  database(name: string): DatabaseLocation;
  stop(): Promise<void>;
}

export async function openBenchServer(): Promise<BenchServer> {
  loadDotEnv();
  const env = readEnv();
  const development = await locateDatabase(env);
  const { rootUrl } = development;
  if (!rootUrl) {
    await development.stop();
    throw new Error(
      'The benchmark creates its own databases: it needs a superuser (the embedded PostgreSQL, or ROOT_DATABASE_URL).',
    );
  }
  return {
    env,
    rootUrl,
    dataDir: development.embedded ? env.EMBEDDED_POSTGRES_DIR : undefined,
    database(name) {
      if (name === databaseNameOf(development.ownerUrl))
        throw new Error(`Refusing to use the development database ${name} for benchmarks.`);
      return databaseOn({ rootUrl, embedded: development.embedded }, name, development.roles, env);
    },
    stop: () => development.stop(),
  };
}

/** Drops the database if it exists, then creates it from the committed migrations. */
export async function recreateDatabase(server: BenchServer, name: string): Promise<DatabaseLocation> {
  const location = server.database(name);
  await dropDatabase(server.rootUrl, name);
  await prepareDatabase(location);
  return location;
}

export function benchDatabaseExists(server: BenchServer, name: string): Promise<boolean> {
  return databaseExists(server.rootUrl, name);
}

/** The first column of the first row of `sql`, as text. */
export async function queryOne(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(sql);
    return String(Object.values(rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}
