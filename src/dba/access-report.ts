// docs/access.md: what each request role may do on every table, column and function of
// the guarded schemas, read from the catalogue and checked by trying.
//
// Grants come from the catalogue (catalogue.ts). Policies are not guessed at: inside a transaction that
// is rolled back, a tenant with a user in each tenant role is created, and each policy's
// predicate is evaluated as that user (the API's role and settings) against a row of the
// user's own tenant and a row of another tenant, every other column NULL. A policy that
// also reads other columns of the row (pg_depend says which) is marked as depending on
// them. Needs a superuser on the database (to create the fixture and switch roles).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  isGranted,
  POLICY_COMMANDS,
  readPolicies,
  readPrivileges,
  readRelations,
  type Policy,
  type Privilege,
  type Relation as CatalogueRelation,
} from './catalogue.ts';
import { evaluatePredicate } from './policy-expressions.ts';
import { placeholderFor, type RoleNames } from './schema-dump.ts';

export const ACCESS_REPORT_HEADER = `# Who may do what

Written from the catalogue by \`npm run db:access -- --write\` (src/dba/access-report.ts);
\`test/access-report.test.ts\` fails when it is stale. Do not edit.`;

const TENANT_ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
const COMMANDS = ['select', 'insert', 'update', 'delete'] as const;
type Command = (typeof COMMANDS)[number];
type Actor = 'anonymous' | (typeof TENANT_ROLES)[number];
const ACTORS: Actor[] = ['anonymous', ...TENANT_ROLES];

const bytewise = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Relation extends CatalogueRelation {
  /** The column that says whose row it is: tenant_id, or the tenants table's id. */
  tenant_column: string | null;
}

/** A predicate's value for a row whose other columns are unknown (NULL): true, false, or null for "depends". */
type Truth = boolean | null;

interface Outcome {
  own: Truth;
  other: Truth;
  /** The columns of the policies that left the answer open. */
  depends: string[];
}

const or = (a: Truth, b: Truth): Truth =>
  a === true || b === true ? true : a === null || b === null ? null : false;
const and = (a: Truth, b: Truth): Truth =>
  a === false || b === false ? false : a === null || b === null ? null : true;

/** A cell of the table: which rows one actor's command may touch, in the legend's words. */
function describeOutcome(
  granted: boolean,
  rls: boolean,
  outcome: Outcome | null,
  hasTenant: boolean,
): string {
  if (!granted) return '—';
  if (!rls) return 'every row';
  if (!outcome) return 'no rows';
  const by = outcome.depends.length ? ` (by ${outcome.depends.join(', ')})` : '';
  if (!hasTenant)
    return outcome.own === true ? 'every row' : outcome.own === null ? `some rows${by}` : 'no rows';
  if (outcome.other === true) return '**every tenant**';
  if (outcome.own === true) return outcome.other === null ? `own tenant, some others${by}` : 'own tenant';
  if (outcome.own === null) return outcome.other === null ? `some rows${by}` : `some rows of own tenant${by}`;
  return outcome.other === null ? `some rows of other tenants${by}` : 'no rows';
}

export interface AccessReportOptions {
  schemas: string[];
  roles: RoleNames;
  tenantsTable: string;
}

/** A request role's privilege, with whether it is granted at all and its schema usable. */
interface RequestPrivilege extends Privilege {
  granted: boolean;
  usable: boolean;
}

/** What the catalogue says of the guarded schemas, for the report. */
interface Catalogue {
  /** By name. */
  relations: Relation[];
  /** By name; `reads` without the tenant column. */
  policies: Policy[];
  privilege: (relation: number, requestRole: string, command: Command) => RequestPrivilege;
}

/** The fixture's tenant, a user of it in each tenant role, and another tenant. */
interface Fixture {
  tenant: string;
  otherTenant: string;
  users: Record<(typeof TENANT_ROLES)[number], string>;
}

/** Each actor's outcome, by `${actor} ${relation oid} ${command}`; absent or null: no rows. */
type Outcomes = Map<string, Outcome | null>;

/** A function of the guarded schemas, and who may call it. */
interface FunctionAccess {
  name: string;
  definer: boolean;
  anonymous: boolean;
  visitor: boolean;
  authenticator: boolean;
}

/** The report as markdown. `client` must be a superuser connected to the database, outside a transaction. */
export async function accessReport(client: pg.ClientBase, options: AccessReportOptions): Promise<string> {
  const { roles } = options;
  await client.query('begin');
  try {
    await client.query(`set local search_path = pg_catalog, pg_temp`);
    const catalogue = await readCatalogue(client, options);
    const fixture = await createFixture(client);
    const outcomes: Outcomes = new Map();
    for (const actor of ACTORS) await evaluateAs(client, actor, catalogue, fixture, roles, outcomes);
    const lines: string[] = [...INTRODUCTION];
    for (const relation of catalogue.relations)
      lines.push(...tableSection(relation, catalogue, outcomes, roles));
    lines.push(...functionsSection(await readFunctions(client, options)));
    return `${lines.join('\n')}\n`;
  } finally {
    await client.query('rollback');
  }
}

/** The relations (by name, with their tenant column), policies and request roles' privileges in scope. */
async function readCatalogue(client: pg.ClientBase, options: AccessReportOptions): Promise<Catalogue> {
  const { roles } = options;
  const isTenantsTable = (relation: { schema: string; table: string }) =>
    `${relation.schema}.${relation.table}` === options.tenantsTable;
  const scope = { schemas: options.schemas };
  const relations = (await readRelations(client, scope)).map((relation): Relation => ({
    ...relation,
    tenant_column: isTenantsTable(relation) ? 'id' : relation.hasTenantId ? 'tenant_id' : null,
  }));
  relations.sort((a, b) => bytewise(a.name, b.name));
  const tenantsTable = relations.find(isTenantsTable)?.oid;
  // What a policy reads besides the tenant column is what leaves its answer open.
  const policies = (await readPolicies(client, scope)).map((policy): Policy => ({
    ...policy,
    reads: policy.reads.filter(
      (column) => column !== 'tenant_id' && !(policy.relation === tenantsTable && column === 'id'),
    ),
  }));
  policies.sort((a, b) => bytewise(a.name, b.name));

  // Privileges, as the catalogue has them, for the two request roles.
  const privileges = (await readPrivileges(client, scope, [roles.anonymous, roles.visitor])).map(
    (privilege): RequestPrivilege => ({
      ...privilege,
      granted: isGranted(privilege),
      usable: privilege.schemaUsage,
    }),
  );
  const privilege = (relation: number, requestRole: string, command: Command) =>
    privileges.find((p) => p.relation === relation && p.role === requestRole && p.command === command)!;
  return { relations, policies, privilege };
}

/** The fixture, inserted in the report's transaction: a tenant with a user in each role, and another tenant. */
async function createFixture(client: pg.ClientBase): Promise<Fixture> {
  const tenant = randomUUID();
  const otherTenant = randomUUID();
  const users = Object.fromEntries(TENANT_ROLES.map((tenantRole) => [tenantRole, randomUUID()])) as Record<
    (typeof TENANT_ROLES)[number],
    string
  >;
  await client.query(
    `insert into app_public.tenants (id, slug, name) values ($1, $3, 'Access report'), ($2, $4, 'Another tenant')`,
    [tenant, otherTenant, `access-${tenant.slice(0, 8)}`, `access-${otherTenant.slice(0, 8)}`],
  );
  for (const tenantRole of TENANT_ROLES) {
    await client.query('insert into app_public.users (id) values ($1)', [users[tenantRole]]);
    await client.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [
      tenant,
      users[tenantRole],
      tenantRole,
    ]);
  }
  return { tenant, otherTenant, users };
}

/** The request role an actor's requests run as. */
const requestRoleOf = (actor: Actor, roles: RoleNames) =>
  actor === 'anonymous' ? roles.anonymous : roles.visitor;

/** Into `outcomes`: the actor's outcome for every granted command on every table with row level security. */
async function evaluateAs(
  client: pg.ClientBase,
  actor: Actor,
  catalogue: Catalogue,
  fixture: Fixture,
  roles: RoleNames,
  outcomes: Outcomes,
): Promise<void> {
  const requestRole = requestRoleOf(actor, roles);
  await client.query(
    `select set_config('role', $1, true), set_config('app.current_user_id', $2, true), set_config('app.current_tenant_id', $3, true)`,
    [
      requestRole,
      actor === 'anonymous' ? '' : fixture.users[actor],
      actor === 'anonymous' ? '' : fixture.tenant,
    ],
  );
  for (const relation of catalogue.relations) {
    for (const command of COMMANDS) {
      const granted = catalogue.privilege(relation.oid, requestRole, command);
      if (!granted.granted || !granted.usable || !relation.rls) continue;
      const applicable = catalogue.policies.filter(
        (p) =>
          p.relation === relation.oid &&
          (p.command === '*' ||
            p.command === { select: 'r', insert: 'a', update: 'w', delete: 'd' }[command]) &&
          p.roles.some((r) => r === 'public' || r === requestRole),
      );
      outcomes.set(
        `${actor} ${relation.oid} ${command}`,
        await outcomeOf(client, relation, command, applicable, fixture),
      );
    }
  }
  await client.query('reset role');
}

/** Which rows of the own and the other tenant the applicable policies admit for a command; null if none is permissive. */
async function outcomeOf(
  client: pg.ClientBase,
  relation: Relation,
  command: Command,
  applicable: Policy[],
  fixture: Fixture,
): Promise<Outcome | null> {
  // Which rows a command may touch: USING, or for an insert the WITH CHECK.
  const expressionOf = (p: Policy) => (command === 'insert' ? p.check : (p.using ?? p.check));
  const depends = new Set<string>();
  const passes = async (tenantId: string): Promise<Truth> => {
    let permissive: Truth = false;
    let restrictive: Truth = true;
    for (const p of applicable) {
      const value = await evaluate(client, relation, expressionOf(p) ?? 'true', tenantId);
      if (value === null) p.reads.forEach((column) => depends.add(column));
      if (p.permissive) permissive = or(permissive, value);
      else restrictive = and(restrictive, value);
    }
    return and(permissive, restrictive);
  };
  if (!applicable.some((p) => p.permissive)) return null;
  const own = await passes(fixture.tenant);
  const other = relation.tenant_column ? await passes(fixture.otherTenant) : false;
  return { own, other, depends: [...depends].sort(bytewise) };
}

/** A predicate's value, as the current role, for a row of the given tenant (its other columns NULL). */
function evaluate(
  client: pg.ClientBase,
  relation: Relation,
  expression: string,
  tenantId: string,
): Promise<Truth> {
  return evaluatePredicate(
    client,
    relation,
    expression,
    relation.tenant_column ? { [relation.tenant_column]: tenantId } : {},
  );
}

/** The report's header and the legend of its tables, up to the tables' heading. */
const INTRODUCTION = [
  ACCESS_REPORT_HEADER,
  '',
  'Who: **anonymous** is a request without a token (`:DATABASE_ANONYMOUS`); **viewer**, **member**,',
  '**admin** and **owner** are a signed-in user (`:DATABASE_VISITOR`) acting in a tenant in that role.',
  "The authenticator (`:DATABASE_AUTHENTICATOR`) is the API's login and appears only where it holds",
  'a privilege of its own.',
  '',
  'What: **own tenant**, the rows of the tenant the request acts in; **every tenant**, rows of other',
  'tenants too (a leak, unless the table is meant to be shared); **some rows (by …)**, rows the',
  'policies choose by those columns (read the policies); **no rows**, granted but no policy admits',
  'any; **—**, no grant (or no access to the schema). Each policy was evaluated as that user against a',
  'row of their own tenant and one of another tenant.',
  '',
  '## Tables',
];

/** One table's section: its heading and summary, who may do what, and its policies. */
function tableSection(
  relation: Relation,
  catalogue: Catalogue,
  outcomes: Outcomes,
  roles: RoleNames,
): string[] {
  return [
    '',
    `### ${relation.name}`,
    '',
    summaryOf(relation),
    '',
    ...accessTable(relation, catalogue, outcomes, roles),
    ...policyList(relation, catalogue.policies, placeholderFor(roles)),
  ];
}

/** The table's kind, its row level security and its comment (without smart tags), as a sentence. */
function summaryOf(relation: Relation): string {
  const kind =
    relation.kind === 'v'
      ? 'view'
      : relation.kind === 'm'
        ? 'materialized view'
        : relation.tenant_column === 'tenant_id'
          ? 'tenant table'
          : 'table';
  const rls =
    relation.kind === 'v' || relation.kind === 'm'
      ? ''
      : relation.rls
        ? relation.force
          ? ', row level security forced'
          : ', row level security (not forced)'
        : ', **no row level security**';
  const comment = relation.comment
    ? ` ${relation.comment
        .split('\n')
        .filter((line) => !line.startsWith('@'))
        .join(' ')}`
    : '';
  return `${kind[0]!.toUpperCase()}${kind.slice(1)}${rls}.${comment}`;
}

/** The markdown table: a row per command, a column per actor. */
function accessTable(
  relation: Relation,
  catalogue: Catalogue,
  outcomes: Outcomes,
  roles: RoleNames,
): string[] {
  const lines = [`| | ${ACTORS.join(' | ')} |`, `| --- | ${ACTORS.map(() => '---').join(' | ')} |`];
  for (const command of COMMANDS) {
    const visitorColumns = catalogue.privilege(relation.oid, roles.visitor, command).columns;
    const label =
      visitorColumns && visitorColumns.length ? `${command} (${visitorColumns.join(', ')})` : command;
    const cells = ACTORS.map((actor) => {
      const granted = catalogue.privilege(relation.oid, requestRoleOf(actor, roles), command);
      const outcome = outcomes.get(`${actor} ${relation.oid} ${command}`) ?? null;
      return describeOutcome(
        granted.granted && granted.usable,
        relation.rls,
        outcome,
        relation.tenant_column !== null,
      );
    });
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/** The table's policies, a bullet each with its command, roles and predicates; nothing if it has none. */
function policyList(relation: Relation, policies: Policy[], role: (role: string) => string): string[] {
  const own = policies.filter((p) => p.relation === relation.oid);
  if (!own.length) return [];
  const lines = ['', 'Policies:', ''];
  for (const p of own) {
    const command = POLICY_COMMANDS[p.command];
    const to = p.roles.map(role).sort(bytewise).join(', ');
    const parts = [
      p.using !== null ? `using \`${p.using.replace(/\s+/g, ' ')}\`` : '',
      p.check !== null ? `with check \`${p.check.replace(/\s+/g, ' ')}\`` : '',
    ].filter(Boolean);
    lines.push(
      `- \`${p.name}\` (${p.permissive ? '' : 'restrictive, '}${command}${to === 'public' ? '' : `, to ${to}`}): ${parts.join('; ')}`,
    );
  }
  return lines;
}

/** Every function in scope, by name: whether it runs as its owner, and who may call it. */
async function readFunctions(client: pg.ClientBase, options: AccessReportOptions): Promise<FunctionAccess[]> {
  const { roles } = options;
  const { rows: functions } = await client.query<FunctionAccess>(
    `select p.oid::regprocedure::text as name, p.prosecdef as definer,
              has_function_privilege($2, p.oid, 'EXECUTE') and has_schema_privilege($2, p.pronamespace, 'USAGE') as anonymous,
              has_function_privilege($3, p.oid, 'EXECUTE') and has_schema_privilege($3, p.pronamespace, 'USAGE') as visitor,
              has_function_privilege($4, p.oid, 'EXECUTE') and has_schema_privilege($4, p.pronamespace, 'USAGE') as authenticator
       from pg_proc p where p.pronamespace = any($1::regnamespace[])`,
    [options.schemas, roles.anonymous, roles.visitor, roles.authenticator],
  );
  return functions.sort((a, b) => bytewise(a.name, b.name));
}

/** The functions section: who may call each function. */
function functionsSection(functions: FunctionAccess[]): string[] {
  return [
    '',
    '## Functions',
    '',
    'Who may call each function. A signed-in user may call it in any tenant role: the function itself',
    "checks the role (`current_tenant_role()`). SECURITY DEFINER functions run with the owner's rights,",
    'past row level security; the authenticator calls its own before switching role.',
    '',
    '| function | runs as | anonymous | signed in | authenticator |',
    '| --- | --- | --- | --- | --- |',
    ...functions.map(
      (fn) =>
        `| \`${fn.name}\` | ${fn.definer ? 'owner (definer)' : 'caller'} | ${fn.anonymous ? 'yes' : '—'} | ${fn.visitor ? 'yes' : '—'} | ${fn.authenticator ? 'yes' : '—'} |`,
    ),
  ];
}
