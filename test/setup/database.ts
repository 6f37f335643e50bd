// Global setup: a real PostgreSQL and a fresh, fully migrated database for this run.
//
// TEST_DATABASE_URL (a superuser on a real server) is used when set; otherwise an
// ephemeral embedded PostgreSQL starts in a temporary folder on a free port. Either
// way the database is new, migrated from scratch with graphile-migrate, and dropped
// at the end, so runs never see each other's data.
//
// TEST_CITUS_URL (a superuser URL of a database on a Citus coordinator that knows its
// workers, such as citus.sh's postgres://postgres@127.0.0.1:55701/tenantgraph) runs the
// tests on that cluster instead: the database is created on every node with the
// extension (src/database/citus-nodes.ts), and the migrations distribute it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { readEnv } from '../../src/config.ts';
import { dropDatabase } from '../../src/database/bootstrap.ts';
import {
  createCitusDatabase,
  dropCitusDatabase,
  letRequestRolesReachWorkers,
} from '../../src/database/citus-nodes.ts';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.ts';
import { databaseOn, newLogins, newPassword } from '../../src/database/location.ts';
import { prepareDatabase } from '../../src/database/migrations.ts';
import { freePort } from '../../support/free-port.ts';

export interface TestDatabase {
  ownerUrl: string;
  authenticatorUrl: string;
  rootUrl: string;
  visitor: string;
  anonymous: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    database: TestDatabase;
  }
}

async function startThrowawayCluster() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-test-pg-'));
  const cluster = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    superuser: 'postgres',
    superuserPassword: newPassword(),
    // Durability is pointless for a database that lives for one run.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
  });
  return {
    rootUrl: cluster.rootUrl,
    async stop() {
      await cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject) {
  const env = readEnv({ ...process.env, DATABASE_URL: undefined });
  const citusUrl = process.env.TEST_CITUS_URL;
  const serverUrl = citusUrl ?? process.env.TEST_DATABASE_URL;
  const server = serverUrl
    ? { rootUrl: serverUrl, embedded: false }
    : { ...(await startThrowawayCluster()), embedded: true };

  const name = `tenantgraph_test_${Date.now().toString(36)}_${process.pid}`;
  const location = databaseOn(server, name, newLogins('tenantgraph_test'), env);
  if (citusUrl) await createCitusDatabase(citusUrl, name, location.roles);
  await prepareDatabase(location);
  if (citusUrl) await letRequestRolesReachWorkers(citusUrl, name, location.roles);

  project.provide('database', {
    ownerUrl: location.ownerUrl,
    authenticatorUrl: location.authenticatorUrl,
    rootUrl: server.rootUrl,
    visitor: env.DATABASE_VISITOR,
    anonymous: env.DATABASE_ANONYMOUS,
  });

  return async () => {
    await (citusUrl ? dropCitusDatabase(citusUrl, name) : dropDatabase(server.rootUrl, name));
    await location.stop();
  };
}
