// Global setup: a real PostgreSQL and a fresh, fully migrated database for this run.
//
// TEST_DATABASE_URL (a superuser on a real server) is used when set; otherwise an
// ephemeral embedded PostgreSQL starts in a temporary folder on a free port. Either
// way the database is new, migrated from scratch with graphile-migrate, and dropped
// at the end, so runs never see each other's data.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { readEnv } from '../../src/config.ts';
import { dropDatabase } from '../../src/database/bootstrap.ts';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.ts';
import { newPassword, rolePlan, withLogin, type DatabaseLocation } from '../../src/database/location.ts';
import { prepareDatabase } from '../../src/database/migrations.ts';
import { freePort } from '../support/free-port.ts';

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
  const server = process.env.TEST_DATABASE_URL
    ? { rootUrl: process.env.TEST_DATABASE_URL, stop: async () => {} }
    : await startThrowawayCluster();

  const name = `tenantgraph_test_${Date.now().toString(36)}_${process.pid}`;
  const owner = { name: 'tenantgraph_test_owner', password: newPassword() };
  const authenticator = { name: 'tenantgraph_test_authenticator', password: newPassword() };
  const ownerUrl = withLogin(server.rootUrl, owner, name);
  const authenticatorUrl = withLogin(server.rootUrl, authenticator, name);
  const location: DatabaseLocation = {
    ownerUrl,
    authenticatorUrl,
    shadowUrl: undefined,
    rootUrl: server.rootUrl,
    roles: rolePlan(ownerUrl, authenticatorUrl, env),
    embedded: !process.env.TEST_DATABASE_URL,
    stop: server.stop,
  };
  await prepareDatabase(location);

  project.provide('database', {
    ownerUrl,
    authenticatorUrl,
    rootUrl: server.rootUrl,
    visitor: env.DATABASE_VISITOR,
    anonymous: env.DATABASE_ANONYMOUS,
  });

  return async () => {
    await dropDatabase(server.rootUrl, name);
    await location.stop();
  };
}
