// graphile-migrate keeps its pools alive after a command and calls process.exit(1) when one
// of them later sees an error (the database restarting, say). src/database/graphile-migrate.ts
// runs each command in a worker thread that is terminated when the command is done: these
// tests check that nothing of graphile-migrate stays in this process or on the database.
//
// Runs on a database of its own in the shared test server, created and dropped here.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { dropDatabase } from '../src/database/bootstrap.ts';
import { graphileMigrate, MigrateError } from '../src/database/graphile-migrate.ts';
import { onDatabase } from '../src/database/location.ts';

const shared = inject('database');
const databaseName = `tenantgraph_gm_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const settings = { connectionString: onDatabase(shared.rootUrl, databaseName) };
const root = new pg.Client({ connectionString: shared.rootUrl });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** This thread's open sockets and timers (vitest's own come and go: compare with at most). */
const resources = () => {
  const kinds = process.getActiveResourcesInfo();
  return {
    sockets: kinds.filter((kind) => kind === 'TCPSocketWrap').length,
    timers: kinds.filter((kind) => kind === 'Timeout').length,
  };
};
const expectNoMoreThan = (before: ReturnType<typeof resources>) => {
  const after = resources();
  expect(after.sockets, 'sockets').toBeLessThanOrEqual(before.sockets);
  expect(after.timers, 'timers').toBeLessThanOrEqual(before.timers);
};
const sessionsOnDatabase = async () =>
  (
    await root.query<{ count: number }>(
      'select count(*)::int as count from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [databaseName],
    )
  ).rows[0]!.count;

beforeAll(async () => {
  await root.connect();
  await root.query(`create database ${pg.escapeIdentifier(databaseName)}`);
});

afterAll(async () => {
  await root.end();
  await dropDatabase(shared.rootUrl, databaseName);
});

test('a command leaves no socket or timer of graphile-migrate in this process, and no session on the database', async () => {
  const before = resources();
  const logged: string[] = [];
  await graphileMigrate(
    {
      command: 'run',
      sql: 'create table probe (id int); comment on table probe is :NOTE;',
      filename: 'probe.sql',
    },
    { ...settings, placeholders: { ':NOTE': "'made by test/graphile-migrate.test.ts'" } },
    (level, message) => logged.push(`${level}: ${message}`),
  );
  // Run in-process, graphile-migrate would still hold its idle connection and the timer
  // that releases it (and exit the process if that connection saw an error meanwhile).
  expectNoMoreThan(before);

  // What a database restart does to whatever is connected: in-process, graphile-migrate's
  // idle connection would see the error and its pool would call process.exit(1) (vitest
  // reports that as an error of this file).
  await root.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [
    databaseName,
  ]);
  await sleep(300);

  // The connection is closed; its server process notices at once, but give a busy machine time.
  let sessions = await sessionsOnDatabase();
  for (const began = performance.now(); sessions > 0 && performance.now() - began < 5_000;) {
    await sleep(50);
    sessions = await sessionsOnDatabase();
  }
  expect(sessions).toBe(0);

  // The command did run, on the database it was given, with the placeholder substituted.
  const check = new pg.Client({ connectionString: settings.connectionString });
  await check.connect();
  try {
    const { rows } = await check.query("select obj_description('probe'::regclass, 'pg_class') as comment");
    expect(rows).toEqual([{ comment: 'made by test/graphile-migrate.test.ts' }]);
  } finally {
    await check.end();
  }
});

test("a failing command rejects with the database's message, and ends its worker too", async () => {
  const before = resources();
  const failure = graphileMigrate(
    { command: 'run', sql: 'select 1 / 0', filename: 'broken.sql' },
    settings,
    () => {},
  );
  await expect(failure).rejects.toBeInstanceOf(MigrateError);
  await expect(failure).rejects.toThrow('division by zero');
  expectNoMoreThan(before);
});
