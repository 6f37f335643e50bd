// The A/B section's named presets (lib/ab.ts runs them): each a pair of variants of the
// API and what a phase of each needs beside its process. They replace the sections that
// compared two set-ups of one feature each (accountability: audit on/off, keys vs tokens;
// observability: metrics, tracing; scaling: one process or N); their committed figures
// are still rendered from the old results (lib/accountability.ts, lib/observability.ts,
// lib/scaling.ts).
//
//   audit-off   createProduct with the audit trigger (`_900_audit` on app_public.products,
//               as shipped) against the same with it disabled (as the owner, for those
//               phases only; re-enabled after each, and by every run's start);
//   api-keys    the list with the member's JWT against the list with the tenant's API key
//               (`Authorization: Bearer tgk_…`, one per tenant, created through
//               createApiKey by the tenant's owner, deleted afterwards);
//   metrics-on  the list without METRICS_PORT against with it, /metrics scraped every second;
//   tracing-on  the list without tracing against with OpenTelemetry exporting to an
//               in-memory exporter that counts the spans and drops them (lib/api-hooks.js);
//   processes   the list through npm start with one API process against API_PROCESSES=2
//               (src/cluster.ts; --b-env API_PROCESSES=4 for more), reported, not judged:
//               on a small machine PostgreSQL and the load generator bound the gain.
import pg from 'pg';
import { freePort } from '../../support/free-port.ts';
import type { AbPreset } from './ab.ts';
import type { ApiProcess } from './api.ts';
import type { BenchTenant } from './scenarios.ts';
import { graphql, signToken } from './tenants.ts';

export const AUDIT_TRIGGER = '_900_audit';
export const AUDITED_TABLE = 'app_public.products';
/** Keys the api-keys preset creates are named so; it deletes them when done (and leftovers before). */
const KEY_NAME = 'bench accountability';
/** The keys act as members, like the tokens they are compared with. */
const KEY_ROLE = 'member';
/** Requests in flight while keys are created and caches filled. */
const SETUP_CONCURRENCY = 8;

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // ALTER TABLE waits for transactions on the table: never forever.
  await client.query("set lock_timeout = '30s'");
  return client;
}

async function triggerState(client: pg.ClientBase): Promise<string | undefined> {
  const { rows } = await client.query<{ tgenabled: string }>(
    'select tgenabled from pg_trigger where tgrelid = $1::regclass and tgname = $2',
    [AUDITED_TABLE, AUDIT_TRIGGER],
  );
  return rows[0]?.tgenabled;
}

async function setAuditTrigger(client: pg.ClientBase, enabled: boolean): Promise<void> {
  await client.query(
    `alter table ${AUDITED_TABLE} ${enabled ? 'enable' : 'disable'} trigger ${client.escapeIdentifier(AUDIT_TRIGGER)}`,
  );
}

/**
 * Makes sure the audit trigger is on, as shipped (a run killed while it was off leaves it
 * off). Returns whether it had to be switched back on; false when there is no such
 * trigger (the audit-on preset then fails on its own).
 */
export async function ensureAuditTriggerEnabled(ownerUrl: string): Promise<boolean> {
  const client = await connect(ownerUrl);
  try {
    const state = await triggerState(client);
    if (state === undefined || state === 'O') return false;
    await setAuditTrigger(client, true);
    return true;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------
// API keys

/** The tenants' owners, by tenant id. */
async function owners(ownerUrl: string, tenantIds: string[]): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tenant_id: string; user_id: string }>(
      `select distinct on (tenant_id) tenant_id, user_id from app_public.memberships where tenant_id = any($1::uuid[]) and role = 'owner' order by tenant_id, user_id`,
      [tenantIds],
    );
    return new Map(rows.map((row) => [row.tenant_id, row.user_id]));
  } finally {
    await client.end();
  }
}

/** Deletes the keys earlier runs of the section made (as the owner; the secrets go with them). */
async function deleteBenchKeys(ownerUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return (await client.query('delete from app_public.api_keys where name = $1', [KEY_NAME])).rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function eachLimited<T>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await work(items[index]!, index);
      }
    }),
  );
}

const CREATE_KEY = `mutation BenchCreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { apiKeyId role secret } }
}`;

const LIST_IDS = 'query BenchListIds { products(first: 50, orderBy: NAME_ASC) { nodes { id } } }';

/** One key per tenant, created through the API by the tenant's owner; the tenants with the key in place of the token. */
async function createKeys(
  api: ApiProcess,
  ownerUrl: string,
  secret: string,
  tenants: BenchTenant[],
): Promise<BenchTenant[]> {
  const ownerOf = await owners(
    ownerUrl,
    tenants.map((tenant) => tenant.tenantId),
  );
  const keyed: BenchTenant[] = new Array(tenants.length);
  await eachLimited(tenants, SETUP_CONCURRENCY, async (tenant, index) => {
    const owner = ownerOf.get(tenant.tenantId);
    if (!owner) throw new Error(`Tenant ${tenant.tenantId} (n = ${tenant.n}) has no owner`);
    const token = signToken(secret, { userId: owner, tenantId: tenant.tenantId }, 600);
    const response = await graphql(api.url, token, CREATE_KEY, { input: { name: KEY_NAME, role: KEY_ROLE } });
    const key = response.body?.data?.createApiKey?.apiKey;
    if (
      response.status !== 200 ||
      response.body?.errors ||
      typeof key?.secret !== 'string' ||
      !key.secret.startsWith('tgk_')
    ) {
      throw new Error(
        `createApiKey as the owner of tenant n = ${tenant.n} fails: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 500)}`,
      );
    }
    if (key.role !== KEY_ROLE)
      throw new Error(`createApiKey made a key with role ${key.role}, not ${KEY_ROLE}`);
    keyed[index] = { ...tenant, token: key.secret };
  });
  return keyed;
}

/** Before measuring: a key reads what its tenant's member reads, and an unknown key is refused. */
async function checkKeys(api: ApiProcess, tenants: BenchTenant[], keyed: BenchTenant[]): Promise<string[]> {
  const checks: string[] = [];
  const unknown = await graphql(api.url, `tgk_${'0'.repeat(64)}`, LIST_IDS);
  const code = unknown.body?.errors?.[0]?.extensions?.code;
  if (unknown.status !== 401 || code !== 'INVALID_API_KEY')
    throw new Error(
      `An unknown key is not refused: HTTP ${unknown.status} ${JSON.stringify(unknown.body).slice(0, 300)}`,
    );
  checks.push('an unknown key is refused (401 INVALID_API_KEY)');
  const sample = [0, Math.floor(tenants.length / 2), tenants.length - 1].filter(
    (i, at, all) => all.indexOf(i) === at,
  );
  for (const i of sample) {
    const [byToken, byKey] = await Promise.all([
      graphql(api.url, tenants[i]!.token, LIST_IDS),
      graphql(api.url, keyed[i]!.token, LIST_IDS),
    ]);
    const ids = (response: { status: number; body: any }) => {
      const nodes = response.body?.data?.products?.nodes;
      if (response.status !== 200 || response.body?.errors || !Array.isArray(nodes))
        throw new Error(
          `Listing products fails: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`,
        );
      return nodes.map((node: { id: string }) => node.id).join(',');
    };
    const [tokenIds, keyIds] = [ids(byToken), ids(byKey)];
    if (!tokenIds || tokenIds !== keyIds)
      throw new Error(`Tenant n = ${tenants[i]!.n}: its key lists other products than its member's token`);
  }
  checks.push(`for ${sample.length} tenants, the key lists the same 50 products as the member's token`);
  return checks;
}

/** Requests spread over this many tenants (over the whole data set): each gets a key, and
 * fewer would meet the per-tenant budgets (a list costs ~111 points, a bucket refills at 500/s). */
const PRESET_TENANTS = 300;
const SCRAPE_INTERVAL_MS = 1000;

function spreadOver(tenants: BenchTenant[], count: number): BenchTenant[] {
  const n = Math.min(count, tenants.length);
  return Array.from({ length: n }, (_, i) => tenants[Math.floor((i * tenants.length) / n)]!);
}

export const PRESETS: Record<string, AbPreset> = {
  'audit-on': {
    title: 'createProduct with the audit trigger (as shipped) / with it disabled',
    scenario: 'create',
    baseline: {},
    candidate: {},
    goal: { figure: 'throughput', ratio: 0.75 },
    async setup({ ownerUrl, tenants }) {
      const client = await connect(ownerUrl);
      const state = await triggerState(client).finally(() => client.end());
      if (state !== 'O')
        throw new Error(`${AUDITED_TABLE} has no enabled trigger ${AUDIT_TRIGGER} (tgenabled ${state})`);
      const spread = spreadOver(tenants, PRESET_TENANTS);
      return {
        tenants: { baseline: spread, candidate: spread },
        async phase(side) {
          if (side === 'candidate') return async () => {};
          const owner = await connect(ownerUrl);
          try {
            await setAuditTrigger(owner, false);
          } finally {
            await owner.end();
          }
          // As shipped again after the phase, also when it fails (and at every run's start).
          return async () => {
            await ensureAuditTriggerEnabled(ownerUrl);
          };
        },
      };
    },
  },
  'api-keys': {
    title: "list with each tenant's API key / with its member's token",
    scenario: 'list',
    baseline: {},
    candidate: {},
    goal: { figure: 'throughput', ratio: 0.95 },
    async setup({ ownerUrl, secret, tenants, startApi, log }) {
      const spread = spreadOver(tenants, PRESET_TENANTS);
      await deleteBenchKeys(ownerUrl);
      const api = await startApi();
      try {
        const keyed = await createKeys(api, ownerUrl, secret, spread);
        log(
          `  created ${keyed.length} API keys (role ${KEY_ROLE}) through createApiKey as each tenant's owner`,
        );
        const checks = await checkKeys(api, spread, keyed);
        return {
          tenants: { baseline: spread, candidate: keyed },
          checks,
          cleanup: async () => void (await deleteBenchKeys(ownerUrl)),
        };
      } catch (error) {
        await deleteBenchKeys(ownerUrl);
        throw error;
      } finally {
        await api.stop();
      }
    },
  },
  'metrics-on': {
    title: 'list with metrics (METRICS_PORT, scraped every second) / without',
    scenario: 'list',
    baseline: {},
    candidate: { env: { METRICS_PORT: 'a free port' } },
    goal: { figure: 'throughput', ratio: 0.97 },
    async setup() {
      // One port will do: the phases' processes run one after the other.
      const port = String(await freePort());
      return {
        env: { candidate: { METRICS_PORT: port } },
        async phase(side, api) {
          if (side === 'baseline') return async () => {};
          // As Prometheus would, more often; a failed scrape fails the run.
          const failures: string[] = [];
          const scraping = setInterval(() => {
            fetch(`http://127.0.0.1:${port}/metrics`).then(
              async (response) =>
                void (response.ok ? await response.text() : failures.push(`HTTP ${response.status}`)),
              (error: Error) => void failures.push(error.message),
            );
          }, SCRAPE_INTERVAL_MS);
          return async () => {
            clearInterval(scraping);
            if (failures.length) throw new Error(`Scraping /metrics of ${api.pid} failed: ${failures[0]}`);
          };
        },
      };
    },
  },
  'tracing-on': {
    title: 'list with tracing to an in-memory exporter / without',
    scenario: 'list',
    baseline: {},
    candidate: { env: { BENCH_COUNT_SPANS: '1' } },
    goal: { figure: 'throughput', ratio: 0.85 },
  },
  processes: {
    title: "list through npm start with B's API_PROCESSES (2 unless --b-env says) / one process",
    scenario: 'list',
    baseline: { env: { API_PROCESSES: '1' } },
    candidate: { env: { API_PROCESSES: '2' } },
    goal: { figure: 'throughput' },
  },
};
