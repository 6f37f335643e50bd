// The accountability section: what the audit trail and API keys cost.
//
//   audit     createProduct with the audit trigger (`_900_audit` on app_public.products,
//             as shipped) and without it (disabled as the owner for those phases only);
//   API keys  the list scenario with `Authorization: Bearer tgk_…` (one key per tenant,
//             created through createApiKey by the tenant's owner) and with the tenant
//             member's JWT.
//
// Each comparison alternates its two variants (A, B, A, B, A by default) on one API
// process of the section's own, so drift between phases shows as ranges and the ratios
// compare medians. See bench/README.md, "Accountability".
import pg from 'pg';
import type { ApiProcess } from './api.ts';
import type { LoadResult } from './load.ts';
import type { Measured, Measuring, Target } from './measured.ts';
import type { BenchTenant } from './scenarios.ts';
import { ratio, round, spread, spreadRange, type Spread } from './stats.ts';
import { graphql, signToken } from './tenants.ts';

export const AUDIT_TRIGGER = '_900_audit';
export const AUDITED_TABLE = 'app_public.products';
/** Keys the section creates are named so; it deletes them when done (and leftovers before). */
const KEY_NAME = 'bench accountability';
/** The keys act as members, like the tokens they are compared with. */
const KEY_ROLE = 'member';
/** Requests in flight while keys are created and caches filled. */
const SETUP_CONCURRENCY = 8;
/** Requests still running after a phase finish before the rows are counted. */
const SETTLE_MS = 1000;

// ---------------------------------------------------------------------------------------
// Results

export interface AuditPhase {
  /** `with`: the trigger enabled, as shipped; `without`: disabled for this phase. */
  kind: 'with' | 'without';
  measured: Measured;
  /** Rows of the section's tenants added over the phase (requests still in flight at its end included). */
  productsAdded: number;
  /** app_public.audit_events rows (products, insert) of those tenants added over the phase. */
  eventsAdded: number;
}

export interface KeyPhase {
  /** `token`: the member's JWT; `key`: the tenant's API key (role member). */
  kind: 'token' | 'key';
  measured: Measured;
}

export interface AuditResult {
  trigger: string;
  table: string;
  phases: AuditPhase[];
  /** The trigger's state after the section (pg_trigger.tgenabled = 'O'). */
  restored: boolean;
}

export interface KeysResult {
  keys: number;
  role: string;
  /** How long creating the keys through createApiKey took, s. */
  createSeconds: number;
  /** What was checked before measuring. */
  checks: string[];
  phases: KeyPhase[];
}

export interface AccountabilityResult {
  tenants: number;
  connections: number;
  secondsPerPhase: number;
  rounds: number;
  /** API_KEY_CACHE_SECONDS of the API process: how long a verified key is trusted. */
  apiKeyCacheSeconds: number;
  audit: AuditResult | { error: string };
  apiKeys: KeysResult | { error: string };
  notes: string[];
}

export interface VariantFigures {
  phases: number;
  throughput: Spread;
  p50: Spread;
  p99: Spread;
  apiCpuMsPerRequest: Spread;
  dbCpuMsPerRequest: Spread;
  /** PostgreSQL's CPU, percent of one core. */
  dbCpuPercent: Spread;
  errors: number;
}

function figures(phases: Measured[]): VariantFigures {
  return {
    phases: phases.length,
    throughput: spread(phases.map((m) => m.throughput)),
    p50: spread(phases.map((m) => m.latencyMs.p50)),
    p99: spread(phases.map((m) => m.latencyMs.p99)),
    apiCpuMsPerRequest: spread(phases.map((m) => m.apiCpuMsPerRequest)),
    dbCpuMsPerRequest: spread(phases.map((m) => m.dbCpuMsPerRequest)),
    dbCpuPercent: spread(phases.map((m) => m.usage.dbCpuPercent)),
    errors: phases.reduce((sum, m) => sum + m.errors, 0),
  };
}

export interface AuditSummary {
  with: VariantFigures;
  without: VariantFigures;
  /** Median throughput with the trigger / without it. */
  throughputRatio: number;
  /** Events written in the phases with the trigger, and the products those phases added. */
  eventsWith: number;
  productsWith: number;
  /** Events written in the phases without the trigger (0 when disabling worked). */
  eventsWithout: number;
  productsWithout: number;
  /** Every product of a phase with the trigger has its event, and no phase without has any. */
  eventsChecked: boolean;
}

export function auditSummary(audit: AuditResult): AuditSummary {
  const of = (kind: AuditPhase['kind']) => audit.phases.filter((phase) => phase.kind === kind);
  const sum = (phases: AuditPhase[], field: 'productsAdded' | 'eventsAdded') =>
    phases.reduce((total, phase) => total + phase[field], 0);
  const withTrigger = figures(of('with').map((phase) => phase.measured));
  const without = figures(of('without').map((phase) => phase.measured));
  return {
    with: withTrigger,
    without,
    throughputRatio: ratio(withTrigger.throughput.median, without.throughput.median),
    eventsWith: sum(of('with'), 'eventsAdded'),
    productsWith: sum(of('with'), 'productsAdded'),
    eventsWithout: sum(of('without'), 'eventsAdded'),
    productsWithout: sum(of('without'), 'productsAdded'),
    eventsChecked:
      of('with').every(
        (phase) =>
          phase.productsAdded > 0 &&
          phase.eventsAdded === phase.productsAdded &&
          phase.productsAdded >= phase.measured.requests,
      ) &&
      of('without').every(
        (phase) => phase.eventsAdded === 0 && phase.productsAdded >= phase.measured.requests,
      ),
  };
}

export interface KeysSummary {
  token: VariantFigures;
  key: VariantFigures;
  /** Median throughput with keys / with tokens. */
  throughputRatio: number;
}

export function keysSummary(keys: KeysResult): KeysSummary {
  const of = (kind: KeyPhase['kind']) =>
    figures(keys.phases.filter((phase) => phase.kind === kind).map((phase) => phase.measured));
  const token = of('token');
  const key = of('key');
  return { token, key, throughputRatio: ratio(key.throughput.median, token.throughput.median) };
}

export function accountabilityTargets(result: AccountabilityResult | { error: string }): Target[] {
  const auditName = (c: number | string) =>
    `audit trail: createProduct throughput with / without the audit trigger, ${c} connections`;
  const keysName = (c: number | string) =>
    `API keys: list throughput with a key / with the member's token, ${c} connections`;
  if ('error' in result) {
    const failed = `failed: ${result.error.slice(0, 200)}`;
    return [
      { name: auditName('–'), goal: '>= 75%', measured: failed, ratio: null, met: false },
      { name: keysName('–'), goal: '>= 95%', measured: failed, ratio: null, met: false },
    ];
  }
  const targets: Target[] = [];
  const c = result.connections;
  if ('error' in result.audit) {
    targets.push({
      name: auditName(c),
      goal: '>= 75%',
      measured: `failed: ${result.audit.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    });
  } else {
    const s = auditSummary(result.audit);
    const errors = s.with.errors + s.without.errors;
    const events = s.eventsChecked
      ? `${s.eventsWith} audit events for ${s.productsWith} products created with the trigger, ${s.eventsWithout} without`
      : `**audit events do not match**: ${s.eventsWith} events for ${s.productsWith} products with the trigger, ${s.eventsWithout} for ${s.productsWithout} without`;
    targets.push({
      name: auditName(c),
      goal: '>= 75%',
      measured:
        `${s.with.throughput.median}/s vs ${s.without.throughput.median}/s = ${Math.round(s.throughputRatio * 100)}% ` +
        `(phases: with ${spreadRange(s.with.throughput, '/s')}, without ${spreadRange(s.without.throughput, '/s')}; ` +
        `p99 ${s.with.p99.median} vs ${s.without.p99.median} ms; API CPU ${s.with.apiCpuMsPerRequest.median} vs ${s.without.apiCpuMsPerRequest.median} ms/req; ` +
        `PostgreSQL CPU ${s.with.dbCpuMsPerRequest.median} vs ${s.without.dbCpuMsPerRequest.median} ms/req; ${events})` +
        `${errors > 0 ? `; errors ${errors}` : ''}${result.audit.restored ? '' : '; **the trigger was not re-enabled**'}`,
      ratio: s.throughputRatio,
      met: s.throughputRatio >= 0.75 && errors === 0 && s.eventsChecked && result.audit.restored,
    });
  }
  if ('error' in result.apiKeys) {
    targets.push({
      name: keysName(c),
      goal: '>= 95%',
      measured: `failed: ${result.apiKeys.error.slice(0, 200)}`,
      ratio: null,
      met: false,
    });
  } else {
    const s = keysSummary(result.apiKeys);
    const errors = s.key.errors + s.token.errors;
    targets.push({
      name: keysName(c),
      goal: '>= 95%',
      measured:
        `${s.key.throughput.median}/s vs ${s.token.throughput.median}/s = ${Math.round(s.throughputRatio * 100)}% ` +
        `(phases: key ${spreadRange(s.key.throughput, '/s')}, token ${spreadRange(s.token.throughput, '/s')}; ` +
        `p99 ${s.key.p99.median} vs ${s.token.p99.median} ms; API CPU ${s.key.apiCpuMsPerRequest.median} vs ${s.token.apiCpuMsPerRequest.median} ms/req; ` +
        `${result.apiKeys.keys} tenants, each with its own key)${errors > 0 ? `; errors ${errors}` : ''}`,
      ratio: s.throughputRatio,
      met: s.throughputRatio >= 0.95 && errors === 0,
    });
  }
  return targets;
}

// ---------------------------------------------------------------------------------------
// The audit trigger

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
 * trigger (the section then fails on its own, the rest of the run goes on).
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

async function counts(
  client: pg.ClientBase,
  tenantIds: string[],
): Promise<{ products: number; events: number }> {
  const { rows } = await client.query<{ products: number; events: number }>(
    `select (select count(*) from app_public.products where tenant_id = any($1::uuid[]))::int as products,
            (select count(*) from app_public.audit_events where tenant_id = any($1::uuid[]) and table_name = 'products' and operation = 'insert')::int as events`,
    [tenantIds],
  );
  return rows[0]!;
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

// ---------------------------------------------------------------------------------------
// The section

export interface AccountabilityOptions extends Measuring {
  ownerUrl: string;
  /** HS256 secret of the run: the owners' tokens are signed with it. */
  secret: string;
  /** The tenants of bench.tenant_index with their members' tokens; the section spreads over `count` of them. */
  tenants: BenchTenant[];
  count: number;
  connections: number;
  /** Phases of B (without the trigger; with keys), each between two of A. */
  rounds: number;
  seconds: number;
  apiKeyCacheSeconds: number;
  /** An API process with the run's settings; the section stops it. */
  startApi(): Promise<ApiProcess>;
  /** A scenario's load for these tenants, every request with its tenant's `token` (a JWT or a key). */
  load(
    api: ApiProcess,
    scenario: 'create' | 'list',
    tenants: BenchTenant[],
    connections: number,
    seconds: number,
  ): Promise<LoadResult>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alternate<A extends string, B extends string>(a: A, b: B, rounds: number): Array<A | B> {
  return [a, ...Array.from({ length: rounds }, () => [b, a] as const).flat()];
}

async function measureAudit(
  api: ApiProcess,
  options: AccountabilityOptions,
  tenants: BenchTenant[],
): Promise<AuditResult> {
  const { log, seconds, connections } = options;
  const tenantIds = tenants.map((tenant) => tenant.tenantId);
  const client = await connect(options.ownerUrl);
  const phases: AuditPhase[] = [];
  let restored = false;
  const state = await triggerState(client).catch(async (error: Error) => {
    await client.end().catch(() => {});
    throw error;
  });
  if (state === undefined) {
    await client.end();
    throw new Error(`${AUDITED_TABLE} has no trigger ${AUDIT_TRIGGER} (migration 000015-audit-trail)`);
  }
  try {
    if (state !== 'O')
      throw new Error(
        `The trigger ${AUDIT_TRIGGER} on ${AUDITED_TABLE} is not enabled before the section (tgenabled ${state})`,
      );
    // Warm-up, not recorded: both variants, ending with the one measured first.
    await setAuditTrigger(client, false);
    await options.load(api, 'create', tenants, connections, 1);
    await setAuditTrigger(client, true);
    await options.load(api, 'create', tenants, connections, 2);
    await sleep(SETTLE_MS);
    let enabled = true;
    for (const kind of alternate('with' as const, 'without' as const, options.rounds)) {
      const wanted = kind === 'with';
      if (wanted !== enabled) {
        await setAuditTrigger(client, wanted);
        enabled = wanted;
      }
      const before = await counts(client, tenantIds);
      const measured = await options.measure(api.pid, () =>
        options.load(api, 'create', tenants, connections, seconds),
      );
      await sleep(SETTLE_MS);
      const after = await counts(client, tenantIds);
      const phase: AuditPhase = {
        kind,
        measured,
        productsAdded: after.products - before.products,
        eventsAdded: after.events - before.events,
      };
      phases.push(phase);
      log(
        describe(
          `${kind} audit`,
          measured,
          `products +${phase.productsAdded}, audit events +${phase.eventsAdded}`,
        ),
      );
    }
  } finally {
    // As shipped again, also when the section fails.
    try {
      await setAuditTrigger(client, true);
      restored = (await triggerState(client)) === 'O';
    } catch (error) {
      log(`  !! re-enabling the audit trigger failed: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
    if (!restored) {
      log(
        `  !! The audit trigger ${AUDIT_TRIGGER} on ${AUDITED_TABLE} is not enabled: run \`alter table ${AUDITED_TABLE} enable trigger ${AUDIT_TRIGGER}\` as the owner on the bench database (the next npm run bench does it too).`,
      );
    }
  }
  return { trigger: AUDIT_TRIGGER, table: AUDITED_TABLE, phases, restored };
}

async function measureKeys(
  api: ApiProcess,
  options: AccountabilityOptions,
  tenants: BenchTenant[],
): Promise<KeysResult> {
  const { log, seconds, connections } = options;
  const started = performance.now();
  const keyed = await createKeys(api, options.ownerUrl, options.secret, tenants);
  const createSeconds = round((performance.now() - started) / 1000, 2);
  log(
    `  created ${keyed.length} API keys (role ${KEY_ROLE}) through createApiKey as each tenant's owner in ${createSeconds} s`,
  );
  const checks = await checkKeys(api, tenants, keyed);
  // Warm-up, not recorded: one request per key and per token fills the API's caches
  // (verified keys; verified memberships), then load of both, the token last.
  await eachLimited([...keyed, ...tenants], SETUP_CONCURRENCY, async (tenant) => {
    const response = await graphql(api.url, tenant.token, LIST_IDS);
    if (response.status !== 200 || response.body?.errors)
      throw new Error(
        `Warm-up list fails: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`,
      );
  });
  await options.load(api, 'list', keyed, connections, 2);
  await options.load(api, 'list', tenants, connections, 2);
  await sleep(SETTLE_MS);
  const phases: KeyPhase[] = [];
  for (const kind of alternate('token' as const, 'key' as const, options.rounds)) {
    const measured = await options.measure(api.pid, () =>
      options.load(api, 'list', kind === 'key' ? keyed : tenants, connections, seconds),
    );
    phases.push({ kind, measured });
    log(describe(kind === 'key' ? 'API key' : 'token', measured));
    await sleep(SETTLE_MS);
  }
  return { keys: keyed.length, role: KEY_ROLE, createSeconds, checks, phases };
}

export async function runAccountability(options: AccountabilityOptions): Promise<AccountabilityResult> {
  const { log } = options;
  const notes: string[] = [];
  const count = Math.min(options.count, options.tenants.length);
  if (count < 1) throw new Error('No tenants to measure');
  if (count < options.count)
    notes.push(
      `The data has ${options.tenants.length} tenants: the section used all of them, not ${options.count}.`,
    );
  if (count < 200)
    notes.push(
      `Requests were spread over only ${count} tenants: under the per-tenant budgets (a list costs ~111 points, a bucket refills at 500/s) some may be throttled.`,
    );
  // Spread over the data set rather than its first rows.
  const tenants = Array.from(
    { length: count },
    (_, i) => options.tenants[Math.floor((i * options.tenants.length) / count)]!,
  );

  const leftovers = await deleteBenchKeys(options.ownerUrl);
  if (leftovers > 0) notes.push(`Deleted ${leftovers} API keys an earlier run of the section left behind.`);
  const api = await options.startApi();
  let audit: AccountabilityResult['audit'];
  let apiKeys: AccountabilityResult['apiKeys'];
  try {
    log(
      `  API process ${api.pid}; ${count} tenants, ${options.connections} connections, ${options.seconds} s phases`,
    );
    log(`  createProduct with and without the audit trigger ${AUDIT_TRIGGER} on ${AUDITED_TABLE}`);
    try {
      audit = await measureAudit(api, options, tenants);
    } catch (error) {
      audit = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${audit.error}`);
    }
    log(
      `  list with each tenant's API key and with its member's token (API_KEY_CACHE_SECONDS=${options.apiKeyCacheSeconds})`,
    );
    try {
      apiKeys = await measureKeys(api, options, tenants);
    } catch (error) {
      apiKeys = { error: (error as Error).message.slice(0, 2000) };
      log(`  failed: ${apiKeys.error}`);
    }
  } finally {
    await api.stop();
    // The keys were for this run only (their secrets are gone with it).
    await deleteBenchKeys(options.ownerUrl).catch((error: Error) =>
      log(`  could not delete the section's API keys: ${error.message}`),
    );
  }
  return {
    tenants: count,
    connections: options.connections,
    secondsPerPhase: options.seconds,
    rounds: options.rounds,
    apiKeyCacheSeconds: options.apiKeyCacheSeconds,
    audit,
    apiKeys,
    notes,
  };
}

function describe(label: string, m: Measured, extra = ''): string {
  return (
    `  ${label.padEnd(14)} ${String(m.throughput).padStart(7)}/s  p50 ${m.latencyMs.p50} p99 ${m.latencyMs.p99} ms  errors ${m.errors}  ` +
    `api ${m.apiCpuMsPerRequest ?? '–'} ms/req  db ${m.dbCpuMsPerRequest ?? '–'} ms/req (${m.usage.dbCpuPercent ?? '–'}%)  other ${m.usage.otherCpuPercent}%${extra ? `  ${extra}` : ''}`
  );
}
