// "Why can't I see this row?" Runs as one identity exactly as the API would (the
// authenticator's login, the role and settings of pgSettingsFor, in one transaction that
// is rolled back) and shows, for a table and optionally one row: the settings, what the
// helpers make of them, the role's grants, and each policy's predicate with its value for
// that row. The row itself is read as the owner (who bypasses row level security), so a
// row the identity cannot see can still be explained.
import pg from 'pg';
import { pgSettingsFor, type Identity, type RequestRoles } from '../auth/claims.ts';
import { isGranted, readPolicies, readPrivileges, readRelations, type Policy } from './catalogue.ts';
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

const yesNo = (value: boolean | null) =>
  value === true ? 'passes' : value === false ? 'fails' : 'is NULL (fails)';

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
  const lines: string[] = [];
  const owner = await connect(connections.ownerUrl);
  const asIdentity = await connect(connections.authenticatorUrl);
  try {
    await owner.query(`set search_path = pg_catalog, pg_temp`);

    // The identity, as the API builds it: a slug is looked up among the user's own tenants.
    let userId = request.userId;
    if (userId && !UUID.test(userId)) {
      const { rows } = await owner.query<{ id: string }>(
        'select id::text from app_public.users where email = $1',
        [userId],
      );
      if (!rows[0])
        throw new Error(`No user has the email address ${userId}; give the user's id (the token's sub).`);
      userId = rows[0].id;
    }
    const identity: Identity | null = userId ? { userId: userId.toLowerCase() } : null;
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
    const settings = pgSettingsFor(identity, connections.roles);

    const {
      rows: [found],
    } = await owner.query<{ oid: number | null }>(
      `select coalesce(to_regclass($1), to_regclass('app_public.' || $1), to_regclass('app_private.' || $1))::int as oid`,
      [request.table],
    );
    const [table] = found?.oid == null ? [] : await readRelations(owner, { relation: found.oid });
    if (!table) throw new Error(`No table ${request.table} in app_public or app_private.`);

    await asIdentity.query('begin');
    try {
      for (const [name, value] of Object.entries(settings))
        await asIdentity.query('select set_config($1, $2, true)', [name, value]);
      await asIdentity.query(`select set_config('search_path', 'pg_catalog, pg_temp', true)`);
      const {
        rows: [helpers],
      } = await asIdentity.query<{
        role: string;
        user_id: string | null;
        tenant_id: string | null;
        tenant_role: string | null;
      }>(
        settings.role === connections.roles.anonymous
          ? `select current_user as role, null as user_id, null as tenant_id, null as tenant_role`
          : `select current_user as role, app_public.current_user_id()::text as user_id, app_public.current_tenant_id()::text as tenant_id,
                    app_public.current_tenant_role()::text as tenant_role`,
      );
      lines.push(
        `As ${identity ? `user ${identity.userId}` : 'an anonymous request'}, the API sets:`,
        ...Object.entries(settings).map(([name, value]) => `  ${name} = ${value}`),
        `and then current_user is ${helpers!.role}` +
          (identity
            ? `, current_user_id() = ${helpers!.user_id ?? 'NULL'}, current_tenant_id() = ${helpers!.tenant_id ?? 'NULL'}, current_tenant_role() = ${helpers!.tenant_role ?? 'NULL'}`
            : '') +
          '.',
      );
      if (identity?.tenantId && !helpers!.tenant_id) {
        lines.push(
          `  The user is not a member of tenant ${identity.tenantId}: current_tenant_id() is NULL, so policies that need it admit nothing.`,
        );
      }

      lines.push(
        '',
        `${table.name}: row level security ${table.rls ? `enabled${table.force ? ' and forced' : ', not forced'}` : 'NOT enabled (every granted row is visible)'}.`,
      );
      const grants = await readPrivileges(owner, { relation: table.oid }, [settings.role!]);
      const schemaUsage = grants[0]?.schemaUsage ?? false;
      if (!schemaUsage)
        lines.push(
          `  ${settings.role} has no usage on its schema: nothing in it is reachable, whatever the grants.`,
        );
      const granted = new Map(grants.map((grant) => [grant.command, isGranted(grant)]));
      lines.push(
        `  Grants to ${settings.role}: ${grants.map((grant) => `${grant.command} ${grant.whole ? 'yes' : grant.columns.length ? `(${grant.columns.join(', ')})` : 'no'}`).join(', ')}.`,
      );

      const policies = (await readPolicies(owner, { relation: table.oid })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      const applies = (policy: Policy, command: string) =>
        (policy.command === '*' || policy.command === command) &&
        policy.roles.some((role) => role === 'public' || role === settings.role);
      lines.push('  Policies:');
      for (const policy of policies) {
        const command = COMMANDS.find(([, code]) => code === policy.command)?.[0] ?? 'all';
        const forRole = policy.roles.some((role) => role === 'public' || role === settings.role)
          ? ''
          : ` (only for ${policy.roles.join(', ')}: not this role)`;
        lines.push(
          `    ${policy.name} (${policy.permissive ? 'permissive' : 'restrictive'}, ${command})${forRole}` +
            (policy.using !== null ? `\n      using ${policy.using.replace(/\s+/g, ' ')}` : '') +
            (policy.check !== null ? `\n      with check ${policy.check.replace(/\s+/g, ' ')}` : ''),
        );
      }

      // The rows: by key, or (without --row) a count.
      const { rows: key } = await owner.query<{ name: string }>(
        `select a.attname::text as name from pg_constraint con, unnest(con.conkey) with ordinality k(attnum, n)
         join pg_attribute a on a.attrelid = $1::regclass and a.attnum = k.attnum
         where con.conrelid = $1::regclass and con.contype = 'p' order by k.n`,
        [table.name],
      );
      const evaluate = (expression: string, row: Record<string, unknown>) =>
        evaluatePredicate(asIdentity, table, expression, row);

      if (!request.row) {
        const {
          rows: [all],
        } = await owner.query<{ count: number }>(`select count(*)::int as count from ${table.name}`);
        const {
          rows: [visible],
        } =
          schemaUsage && granted.get('select')
            ? await asIdentity.query<{ count: number }>(`select count(*)::int as count from ${table.name}`)
            : { rows: [{ count: 0 }] };
        lines.push(
          '',
          `${visible!.count} of the table's ${all!.count} rows are visible to this identity. Add --row <key> to explain one row.`,
        );
        return lines;
      }

      const pairs = request.row.includes('=')
        ? request.row.split(',').map((pair) => pair.split('=').map((part) => part.trim()) as [string, string])
        : (() => {
            const columns = key.map((column) => column.name).filter((name) => name !== 'tenant_id');
            if (columns.length !== 1)
              throw new Error(
                `${table.name}'s key is (${key.map((c) => c.name).join(', ')}): give --row as column=value,...`,
              );
            return [[columns[0]!, request.row!] as [string, string]];
          })();
      const where = pairs
        .map(([column], i) => `${pg.escapeIdentifier(column)}::text = $${i + 1}`)
        .join(' and ');
      const values = pairs.map(([, value]) => value);
      const { rows: found } = await owner.query<{ row: Record<string, unknown> }>(
        `select row_to_json(t) as row from ${table.name} t where ${where} limit 5`,
        values,
      );
      if (found.length === 0) {
        lines.push(
          '',
          `No row of ${table.name} has ${pairs.map(([c, v]) => `${c} = ${v}`).join(', ')}, in any tenant.`,
        );
        return lines;
      }
      for (const { row } of found) {
        const keyText = key.map((column) => `${column.name} = ${String(row[column.name])}`).join(', ');
        let visible = false;
        if (schemaUsage && granted.get('select')) {
          const where = key
            .map((column, i) => `${pg.escapeIdentifier(column.name)}::text = $${i + 1}`)
            .join(' and ');
          const values = key.map((column) => String(row[column.name]));
          const { rowCount } = await asIdentity.query(`select 1 from ${table.name} where ${where}`, values);
          visible = (rowCount ?? 0) > 0;
        }
        const otherTenant = helpers!.tenant_id && row.tenant_id !== helpers!.tenant_id;
        const tenantNote = otherTenant ? ', not the tenant this request acts in' : '';
        const tenant = row.tenant_id !== undefined ? ` (tenant ${String(row.tenant_id)}${tenantNote})` : '';
        lines.push('', `Row ${keyText}${tenant}: ${visible ? 'visible' : 'NOT visible'} to this identity.`);
        for (const [command, code] of COMMANDS) {
          if (command === 'insert') continue;
          if (!granted.get(command)) {
            lines.push(`  ${command}: no grant, so refused before any policy.`);
            continue;
          }
          if (!schemaUsage) {
            lines.push(`  ${command}: no usage on the schema.`);
            continue;
          }
          if (!table.rls) {
            lines.push(`  ${command}: allowed (no row level security).`);
            continue;
          }
          const applicable = policies.filter((policy) => applies(policy, code));
          const results: string[] = [];
          let permissive = false;
          let restrictive = true;
          for (const policy of applicable) {
            const expression = policy.using ?? policy.check ?? 'true';
            const passed = await evaluate(expression, row);
            const parts = conjuncts(expression);
            // Which condition of the policy stopped the row.
            const why =
              passed !== true && parts.length > 1
                ? ` because ${(
                    await Promise.all(parts.map(async (part) => ({ part, value: await evaluate(part, row) })))
                  )
                    .filter(({ value }) => value !== true)
                    .map(({ part, value }) => `${part.replace(/\s+/g, ' ')} ${yesNo(value)}`)
                    .join(' and ')}`
                : '';
            results.push(`${policy.name} ${yesNo(passed)}${why}`);
            if (policy.permissive) permissive ||= passed === true;
            else restrictive &&= passed === true;
          }
          const allowed = permissive && restrictive;
          lines.push(
            `  ${command}: ${allowed ? 'allowed' : 'refused'}: ${applicable.length ? results.join('; ') : 'no policy for this command and role, so no row is admitted'}` +
              (applicable.length && !applicable.some((policy) => policy.permissive)
                ? ' (only restrictive policies: they admit nothing on their own)'
                : ''),
          );
        }
      }
      return lines;
    } finally {
      await asIdentity.query('rollback');
    }
  } finally {
    await owner.end();
    await asIdentity.end();
  }
}
