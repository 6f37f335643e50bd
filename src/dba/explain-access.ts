// "Why can't I see this row?" Runs as one identity exactly as the API would (the
// authenticator's login, the role and settings of pgSettingsFor, in one transaction that
// is rolled back) and shows, for a table and optionally one row: the settings, what the
// helpers make of them, the role's grants, and each policy's predicate with its value for
// that row. The row itself is read as the owner (who bypasses row level security), so a
// row the identity cannot see can still be explained.
import pg from 'pg';
import { pgSettingsFor, type Claims, type RequestRoles } from '../auth/claims.ts';
import {
  isGranted,
  readPolicies,
  readPrivileges,
  readRelations,
  type Policy,
  type Privilege,
  type Relation,
} from './catalogue.ts';
import { conjuncts, evaluatePredicate } from './policy-expressions.ts';

export interface ExplainRequest {
  /** The user's id (the token's sub) or email address; absent: an anonymous request. */
  userId?: string;
  /** A tenant id or slug, as in the X-Tenant header. */
  tenant?: string;
  /** A verified email, if the token would carry one. */
  email?: string;
  /** A table name, schema-qualified or in app_public (then app_private). */
  table: string;
  /** The row: its key's value (the key apart from tenant_id), or col=value pairs separated by commas. */
  row?: string;
}

export interface ExplainConnections {
  ownerUrl: string;
  authenticatorUrl: string;
  roles: RequestRoles;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMMANDS = [
  ['select', 'r'],
  ['insert', 'a'],
  ['update', 'w'],
  ['delete', 'd'],
] as const;

/** A predicate's value, as a verdict. */
const yesNo = (value: boolean | null) =>
  value === true ? 'passes' : value === false ? 'fails' : 'is NULL (fails)';

/** What the API's helpers make of the settings, read as the identity. */
interface Helpers {
  role: string;
  user_id: string | null;
  tenant_id: string | null;
  tenant_role: string | null;
}

/** What the identity may reach on the table: read once, used by every section after the settings. */
interface Access {
  owner: pg.Client;
  asIdentity: pg.Client;
  table: Relation;
  /** The request role the settings switch to. */
  role: string;
  helpers: Helpers;
  schemaUsage: boolean;
  granted: Map<string, boolean>;
  /** The table's policies, by name. */
  policies: Policy[];
}

type Row = Record<string, unknown>;

/** A connected client. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** The explanation, one line per entry, for a person. */
export async function explainAccess(
  request: ExplainRequest,
  connections: ExplainConnections,
): Promise<string[]> {
  const owner = await connect(connections.ownerUrl);
  const asIdentity = await connect(connections.authenticatorUrl);
  try {
    await owner.query(`set search_path = pg_catalog, pg_temp`);
    const { identity, lines } = await identityOf(request, owner, asIdentity);
    const settings = pgSettingsFor(identity, connections.roles);
    const table = await tableNamed(owner, request.table);
    await asIdentity.query('begin');
    try {
      const helpers = await helpersAs(asIdentity, settings, connections.roles);
      lines.push(...settingsLines(identity, settings, helpers));
      const role = settings.role!;
      lines.push('', tableLine(table));
      const grants = await readPrivileges(owner, { relation: table.oid }, [role]);
      lines.push(...grantLines(grants, role));
      const access: Access = {
        owner,
        asIdentity,
        table,
        role,
        helpers,
        schemaUsage: grants[0]?.schemaUsage ?? false,
        granted: new Map(grants.map((grant) => [grant.command, isGranted(grant)])),
        policies: await policiesByName(owner, table),
      };
      lines.push(...policyLines(access));
      // The rows: by key, or (without --row) a count.
      const key = await keyOf(owner, table);
      lines.push(...(request.row ? await rowLines(access, key, request.row) : await countLines(access)));
      return lines;
    } finally {
      await asIdentity.query('rollback');
    }
  } finally {
    await owner.end();
    await asIdentity.end();
  }
}

/** The identity as the API builds it (an email looked up, a slug among the user's tenants), and why X-Tenant was dropped. */
async function identityOf(
  request: ExplainRequest,
  owner: pg.Client,
  asIdentity: pg.Client,
): Promise<{ identity: Claims | null; lines: string[] }> {
  const lines: string[] = [];
  const userId = request.userId && (await userIdOf(owner, request.userId));
  const identity: Claims | null = userId ? { userId: userId.toLowerCase() } : null;
  if (identity && request.tenant) {
    if (UUID.test(request.tenant)) identity.tenantId = request.tenant.toLowerCase();
    else {
      const { rows } = await asIdentity.query<{ id: string | null }>(
        'select app_private.member_tenant_id_by_slug($1, $2) as id',
        [identity.userId, request.tenant],
      );
      if (rows[0]?.id) identity.tenantId = rows[0].id;
      else
        lines.push(
          `X-Tenant ${request.tenant}: not a slug of one of this user's tenants, so the API acts in no tenant.`,
        );
    }
  }
  if (identity && request.email) identity.email = request.email;
  return { identity, lines };
}

/** The user's id: as given, or the id of the user with that email address. */
async function userIdOf(owner: pg.Client, userId: string): Promise<string> {
  if (UUID.test(userId)) return userId;
  const { rows } = await owner.query<{ id: string }>(
    'select id::text from app_public.users where email = $1',
    [userId],
  );
  if (!rows[0])
    throw new Error(`No user has the email address ${userId}; give the user's id (the token's sub).`);
  return rows[0].id;
}

/** The table, schema-qualified or in app_public (then app_private). */
async function tableNamed(owner: pg.Client, name: string): Promise<Relation> {
  const {
    rows: [found],
  } = await owner.query<{ oid: number | null }>(
    `select coalesce(to_regclass($1), to_regclass('app_public.' || $1), to_regclass('app_private.' || $1))::int as oid`,
    [name],
  );
  const [table] = found?.oid == null ? [] : await readRelations(owner, { relation: found.oid });
  if (!table) throw new Error(`No table ${name} in app_public or app_private.`);
  return table;
}

/** The helpers' values once the settings are applied, in the open transaction, as the API would. */
async function helpersAs(
  asIdentity: pg.Client,
  settings: Record<string, string>,
  roles: RequestRoles,
): Promise<Helpers> {
  for (const [name, value] of Object.entries(settings))
    await asIdentity.query('select set_config($1, $2, true)', [name, value]);
  await asIdentity.query(`select set_config('search_path', 'pg_catalog, pg_temp', true)`);
  const {
    rows: [helpers],
  } = await asIdentity.query<Helpers>(
    settings.role === roles.anonymous
      ? `select current_user as role, null as user_id, null as tenant_id, null as tenant_role`
      : `select current_user as role, app_public.current_user_id()::text as user_id, app_public.current_tenant_id()::text as tenant_id,
                    app_public.current_tenant_role()::text as tenant_role`,
  );
  return helpers!;
}

/** The settings the API makes for the identity, and what the helpers make of them. */
function settingsLines(
  identity: Claims | null,
  settings: Record<string, string>,
  helpers: Helpers,
): string[] {
  const lines = [
    `As ${identity ? `user ${identity.userId}` : 'an anonymous request'}, the API sets:`,
    ...Object.entries(settings).map(([name, value]) => `  ${name} = ${value}`),
    `and then current_user is ${helpers.role}` +
      (identity
        ? `, current_user_id() = ${helpers.user_id ?? 'NULL'}, current_tenant_id() = ${helpers.tenant_id ?? 'NULL'}, current_tenant_role() = ${helpers.tenant_role ?? 'NULL'}`
        : '') +
      '.',
  ];
  if (identity?.tenantId && !helpers.tenant_id) {
    lines.push(
      `  The user is not a member of tenant ${identity.tenantId}: current_tenant_id() is NULL, so policies that need it admit nothing.`,
    );
  }
  return lines;
}

/** The table's row level security flags. */
const tableLine = (table: Relation) =>
  `${table.name}: row level security ${table.rls ? `enabled${table.force ? ' and forced' : ', not forced'}` : 'NOT enabled (every granted row is visible)'}.`;

/** The role's grants on the table, and whether it may use the table's schema at all. */
function grantLines(grants: Privilege[], role: string): string[] {
  const lines: string[] = [];
  if (!(grants[0]?.schemaUsage ?? false))
    lines.push(`  ${role} has no usage on its schema: nothing in it is reachable, whatever the grants.`);
  lines.push(
    `  Grants to ${role}: ${grants.map((grant) => `${grant.command} ${grant.whole ? 'yes' : grant.columns.length ? `(${grant.columns.join(', ')})` : 'no'}`).join(', ')}.`,
  );
  return lines;
}

/** The table's policies, ordered by name. */
async function policiesByName(owner: pg.Client, table: Relation): Promise<Policy[]> {
  return (await readPolicies(owner, { relation: table.oid })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

/** Whether a policy is for the role (or for everyone). */
const forRole = (policy: Policy, role: string) =>
  policy.roles.some((name) => name === 'public' || name === role);

/** Whether a policy applies to a command (the catalogue's command letter) for the role. */
const applies = (policy: Policy, code: string, role: string) =>
  (policy.command === '*' || policy.command === code) && forRole(policy, role);

/** Each policy of the table, with its command, its roles and its predicates. */
function policyLines({ policies, role }: Access): string[] {
  const lines = ['  Policies:'];
  for (const policy of policies) {
    const command = COMMANDS.find(([, code]) => code === policy.command)?.[0] ?? 'all';
    const roles = forRole(policy, role) ? '' : ` (only for ${policy.roles.join(', ')}: not this role)`;
    lines.push(
      `    ${policy.name} (${policy.permissive ? 'permissive' : 'restrictive'}, ${command})${roles}` +
        (policy.using !== null ? `\n      using ${policy.using.replace(/\s+/g, ' ')}` : '') +
        (policy.check !== null ? `\n      with check ${policy.check.replace(/\s+/g, ' ')}` : ''),
    );
  }
  return lines;
}

/** The table's primary key columns, in key order. */
async function keyOf(owner: pg.Client, table: Relation): Promise<{ name: string }[]> {
  const { rows } = await owner.query<{ name: string }>(
    `select a.attname::text as name from pg_constraint con, unnest(con.conkey) with ordinality k(attnum, n)
         join pg_attribute a on a.attrelid = $1::regclass and a.attnum = k.attnum
         where con.conrelid = $1::regclass and con.contype = 'p' order by k.n`,
    [table.name],
  );
  return rows;
}

/** Without --row: how many of the table's rows the identity sees. */
async function countLines({ owner, asIdentity, table, schemaUsage, granted }: Access): Promise<string[]> {
  const {
    rows: [all],
  } = await owner.query<{ count: number }>(`select count(*)::int as count from ${table.name}`);
  const {
    rows: [visible],
  } =
    schemaUsage && granted.get('select')
      ? await asIdentity.query<{ count: number }>(`select count(*)::int as count from ${table.name}`)
      : { rows: [{ count: 0 }] };
  return [
    '',
    `${visible!.count} of the table's ${all!.count} rows are visible to this identity. Add --row <key> to explain one row.`,
  ];
}

/** With --row: each matching row (in any tenant), or why there is none. */
async function rowLines(access: Access, key: { name: string }[], rowArgument: string): Promise<string[]> {
  const { owner, table } = access;
  const pairs = rowPairs(table, key, rowArgument);
  const where = pairs.map(([column], i) => `${pg.escapeIdentifier(column)}::text = $${i + 1}`).join(' and ');
  const values = pairs.map(([, value]) => value);
  const { rows: found } = await owner.query<{ row: Row }>(
    `select row_to_json(t) as row from ${table.name} t where ${where} limit 5`,
    values,
  );
  if (found.length === 0)
    return [
      '',
      `No row of ${table.name} has ${pairs.map(([c, v]) => `${c} = ${v}`).join(', ')}, in any tenant.`,
    ];
  const lines: string[] = [];
  for (const { row } of found) lines.push(...(await oneRowLines(access, key, row)));
  return lines;
}

/** --row as column/value pairs: given as col=value,..., or the value of a one-column key (apart from tenant_id). */
function rowPairs(table: Relation, key: { name: string }[], rowArgument: string): [string, string][] {
  if (rowArgument.includes('='))
    return rowArgument
      .split(',')
      .map((pair) => pair.split('=').map((part) => part.trim()) as [string, string]);
  const columns = key.map((column) => column.name).filter((name) => name !== 'tenant_id');
  if (columns.length !== 1)
    throw new Error(
      `${table.name}'s key is (${key.map((c) => c.name).join(', ')}): give --row as column=value,...`,
    );
  return [[columns[0]!, rowArgument]];
}

/** One row: whether the identity sees it, then each command's verdict on it. */
async function oneRowLines(access: Access, key: { name: string }[], row: Row): Promise<string[]> {
  const { helpers } = access;
  const keyText = key.map((column) => `${column.name} = ${String(row[column.name])}`).join(', ');
  const visible = await isVisible(access, key, row);
  const otherTenant = helpers.tenant_id && row.tenant_id !== helpers.tenant_id;
  const tenantNote = otherTenant ? ', not the tenant this request acts in' : '';
  const tenant = row.tenant_id !== undefined ? ` (tenant ${String(row.tenant_id)}${tenantNote})` : '';
  const lines = ['', `Row ${keyText}${tenant}: ${visible ? 'visible' : 'NOT visible'} to this identity.`];
  for (const [command, code] of COMMANDS) {
    if (command === 'insert') continue;
    lines.push(await commandLine(access, command, code, row));
  }
  return lines;
}

/** Whether the identity's own select, by key, returns the row. */
async function isVisible(
  { asIdentity, table, schemaUsage, granted }: Access,
  key: { name: string }[],
  row: Row,
): Promise<boolean> {
  if (!schemaUsage || !granted.get('select')) return false;
  const where = key.map((column, i) => `${pg.escapeIdentifier(column.name)}::text = $${i + 1}`).join(' and ');
  const values = key.map((column) => String(row[column.name]));
  const { rowCount } = await asIdentity.query(`select 1 from ${table.name} where ${where}`, values);
  return (rowCount ?? 0) > 0;
}

/** One command's verdict on the row: refused by grants or schema, or each applicable policy's value. */
async function commandLine(access: Access, command: string, code: string, row: Row): Promise<string> {
  const { table, schemaUsage, granted, policies, role } = access;
  if (!granted.get(command)) return `  ${command}: no grant, so refused before any policy.`;
  if (!schemaUsage) return `  ${command}: no usage on the schema.`;
  if (!table.rls) return `  ${command}: allowed (no row level security).`;
  const applicable = policies.filter((policy) => applies(policy, code, role));
  const results: string[] = [];
  let permissive = false;
  let restrictive = true;
  for (const policy of applicable) {
    const { passed, result } = await policyResult(access, policy, row);
    results.push(result);
    if (policy.permissive) permissive ||= passed === true;
    else restrictive &&= passed === true;
  }
  const allowed = permissive && restrictive;
  return (
    `  ${command}: ${allowed ? 'allowed' : 'refused'}: ${applicable.length ? results.join('; ') : 'no policy for this command and role, so no row is admitted'}` +
    (applicable.length && !applicable.some((policy) => policy.permissive)
      ? ' (only restrictive policies: they admit nothing on their own)'
      : '')
  );
}

/** One policy's value for the row and, when it does not pass, which of its conditions stopped the row. */
async function policyResult(
  { asIdentity, table }: Access,
  policy: Policy,
  row: Row,
): Promise<{ passed: boolean | null; result: string }> {
  const evaluate = (expression: string) => evaluatePredicate(asIdentity, table, expression, row);
  const expression = policy.using ?? policy.check ?? 'true';
  const passed = await evaluate(expression);
  const parts = conjuncts(expression);
  const why =
    passed !== true && parts.length > 1
      ? ` because ${(await Promise.all(parts.map(async (part) => ({ part, value: await evaluate(part) }))))
          .filter(({ value }) => value !== true)
          .map(({ part, value }) => `${part.replace(/\s+/g, ' ')} ${yesNo(value)}`)
          .join(' and ')}`
      : '';
  return { passed, result: `${policy.name} ${yesNo(passed)}${why}` };
}
