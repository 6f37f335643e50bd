// SLOW (a minute or two): the README's DBA loop, as written, on a scratch copy of the
// project. A column is added in migrations/current.sql, then the commands step 5 of the
// loop names run there (db:commit, then the one command that regenerates every file
// generated from the schema; docs/dba-loop.md's step 5 must name the same), and the
// tests that check the generated files pass there: nothing the loop leaves out can go stale unnoticed (as the example app's typed
// documents once did, since the loop never said `npm run codegen`).
import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { projectRoot } from '../src/database/migrations.ts';

const execFile = promisify(execFileCallback);
let scratch: string;

/** The `npm run …` commands of step 5 of the loop under `heading` in `page`, in order. */
async function loopStepFive(page: string, heading: string): Promise<string[]> {
  const text = await readFile(path.join(projectRoot, page), 'utf8');
  const loop = text.slice(text.indexOf(`\n${heading}\n`) + 1);
  const step = /\n5\. ([\s\S]*?)\n6\. /.exec(loop.slice(0, loop.indexOf('\n## ', 1)))?.[1] ?? '';
  return [...step.matchAll(/`(npm run [^`]+)`/g)].map((match) => match[1]!);
}

/** A port nobody listens on now, for the scratch copy's embedded PostgreSQL. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `command` (an npm command line of the README) in the scratch copy. */
async function run(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  // The README's placeholder message becomes a real one; arguments are split as a shell would.
  const args = [...command.replace('"what it does"', '"sku"').matchAll(/"([^"]*)"|(\S+)/g)].map(
    (match) => match[1] ?? match[2]!,
  );
  const { stdout, stderr } = await execFile(args[0]!, args.slice(1), {
    cwd: scratch,
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  return `${stdout}${stderr}`;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-dba-loop-'));
  // The files git tracks, as they are in this working tree, and the installed packages.
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: projectRoot, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of tracked) {
    await mkdir(path.dirname(path.join(scratch, file)), { recursive: true });
    await cp(path.join(projectRoot, file), path.join(scratch, file)).catch((error: NodeJS.ErrnoException) => {
      // A file deleted in this working tree but not yet in git's index.
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await symlink(path.join(projectRoot, 'node_modules'), path.join(scratch, 'node_modules'));
  await symlink(
    path.join(projectRoot, 'examples/web/node_modules'),
    path.join(scratch, 'examples/web/node_modules'),
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}, 120_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test(
  "the README's DBA loop, followed as written on a scratch copy, leaves every generated file current (slow)",
  { timeout: 600_000 },
  async () => {
    const commands = await loopStepFive('README.md', '## Evolving the schema');
    // docs/dba-loop.md writes the loop out in full: its step 5 is the same commands.
    expect(await loopStepFive('docs/dba-loop.md', '## The loop')).toEqual(commands);
    expect(commands[0]).toMatch(/^npm run db:commit /);
    expect(commands.length).toBeGreaterThan(1);

    await appendFile(
      path.join(scratch, 'migrations/current.sql'),
      [
        '',
        'alter table app_public.products add column if not exists sku text;',
        "comment on column app_public.products.sku is 'The stock keeping unit.';",
        // Indexed, so the API filters by it: the example app's ProductFilter changes too.
        'create index if not exists products_tenant_id_sku_idx on app_public.products (tenant_id, sku);',
        '',
      ].join('\n'),
    );
    // Not this run's test environment: the scratch copy's own commands start their own
    // PostgreSQL (an embedded one on a free port for the db:* commands).
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(VITEST|NODE_ENV$|GRAPHILE_ENV$|TEST_)/.test(name)),
    );
    env.EMBEDDED_POSTGRES_PORT = String(await freePort());
    env.TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
    for (const command of commands) await run(command, env);

    const schema = await readFile(path.join(scratch, 'schema.graphql'), 'utf8');
    expect(schema).toMatch(/\bsku: String\b/);
    // The tests that fail when a generated file is stale (what `npm test` would say of them).
    const checks = await run(
      'npx vitest run test/codegen.test.ts test/schema-file.test.ts test/schema-dump.test.ts test/access-report.test.ts',
      env,
    ).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`generated-file tests failed in the scratch copy:\n${error.stdout}${error.stderr}`);
    });
    expect(checks).toMatch(/Test Files\s+.*4 passed/);
    expect(await readFile(path.join(scratch, 'examples/web/src/gql/graphql.ts'), 'utf8')).toMatch(/\bsku\?:/);
  },
);
