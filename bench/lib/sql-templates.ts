// The database ceiling replays the SQL the API itself sends. The harness captures it
// (lib/api-hooks.js records every statement) for one request per scenario, then
// turns the request's own values (tenant, user, product, ...) into placeholders, so the
// same transaction can be replayed for any tenant: over the raw pg driver, with
// pgbench, or under EXPLAIN ANALYZE.
import type { CapturedStatement } from './api.ts';
import type { RequestValues } from './scenarios.ts';
import type { Statement } from './load.ts';

type Key = keyof RequestValues;
const KEYS: Key[] = ['tenant', 'user', 'product', 'category', 'name', 'word'];
const mark = (key: Key) => `\u0001${key}\u0001`;

interface TemplateStatement {
  text: string;
  name: string | undefined;
  values: unknown[] | undefined;
}

export interface SqlTemplate {
  /** Transactions the API ran for one request (aggregates and totalCount take two). */
  transactions: number;
  /** The set_config statement's JSON of [name, value] pairs, with placeholders. */
  settings: [string, string][];
  /** The statements between set_config and commit, over all of the request's transactions. */
  statements: TemplateStatement[];
}

/** The API's settings statement: today's (as-request.ts), and the one before Citus support. */
const SET_CONFIG =
  /select app_private\.apply_request_settings\(\$1::json\)|select set_config\(el->>0, el->>1, true\) from json_array_elements\(\$1::json\) el/;

function toTemplate(value: unknown, known: RequestValues): unknown {
  if (typeof value !== 'string') return value;
  let text = value;
  // Ids and names are unique strings: replaced wherever they occur. The filter word only
  // as a whole pattern value (`%word%`), so it cannot hit anything else.
  for (const key of ['tenant', 'user', 'product', 'category', 'name'] as const)
    text = text.split(known[key]).join(mark(key));
  if (text === `%${known.word}%` || text === known.word) text = text.replace(known.word, mark('word'));
  return text;
}

function fromTemplate(value: unknown, values: RequestValues): unknown {
  if (typeof value !== 'string' || !value.includes('\u0001')) return value;
  let text = value;
  for (const key of KEYS) text = text.split(mark(key)).join(values[key]);
  return text;
}

/** Builds the template from the statements captured for one request made with `known`. */
export function templateFrom(captured: CapturedStatement[], known: RequestValues): SqlTemplate {
  const statements: TemplateStatement[] = [];
  let settings: [string, string][] | undefined;
  let transactions = 0;
  for (const statement of captured) {
    const text = statement.text.trim();
    if (/^(begin|commit|rollback)$/i.test(text) || /^set jit_optimize_above_cost/.test(text)) {
      if (/^begin$/i.test(text)) transactions += 1;
      continue;
    }
    if (SET_CONFIG.test(text)) {
      settings ??= (JSON.parse(String(statement.values?.[0])) as [string, string][]).map(([name, value]) => [
        name,
        String(toTemplate(value, known)),
      ]);
      continue;
    }
    statements.push({
      text: statement.text,
      name: statement.name,
      values: statement.values?.map((value) => toTemplate(value, known)),
    });
  }
  if (!settings) throw new Error('The captured request set no pgSettings; is the token valid?');
  if (statements.length === 0) throw new Error('The captured request ran no SQL');
  return { transactions, settings, statements };
}

/** The settings JSON the API sends for a request with `values`. */
export function settingsJson(template: SqlTemplate, values: RequestValues, drop: string[] = []): string {
  return JSON.stringify(
    template.settings
      .filter(([name]) => !drop.includes(name))
      .map(([name, value]) => [name, fromTemplate(value, values)]),
  );
}

/** As src/request/as-request.ts sends it, so the ceiling pays for the same settings. */
export const SET_CONFIG_SQL = 'select app_private.apply_request_settings($1::json)';

/**
 * One transaction doing the request's work: begin, the same set_config, the same
 * statements (prepared under the same names), commit. Where the API used two
 * transactions (two connections) for one request, this uses one.
 */
export function transaction(template: SqlTemplate, values: RequestValues): Statement[] {
  return [
    { text: 'begin' },
    { text: SET_CONFIG_SQL, values: [settingsJson(template, values)] },
    ...template.statements.map((statement) => ({
      text: statement.text,
      name: statement.name,
      values: statement.values?.map((value) => fromTemplate(value, values)),
    })),
    { text: 'commit' },
  ];
}

/** The main statements alone, with values, e.g. for EXPLAIN. */
export function mainStatements(template: SqlTemplate, values: RequestValues): Statement[] {
  return template.statements.map((statement) => ({
    text: statement.text,
    values: statement.values?.map((value) => fromTemplate(value, values)),
  }));
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

// pgbench variables the script sets with \gset from bench.tenant_index.
const PGBENCH_VARIABLES: Partial<Record<Key, string>> = {
  tenant: 'tenant_id',
  user: 'user_id',
  product: 'product_id',
  category: 'category_id',
};

// pgbench reads `:name` anywhere in a statement as a variable, also inside string
// literals (`to_char(..., 'HH24:MI:SS')`); the same constant written as E'HH24\x3aMI...'
// has no colon for it to see.
function hideColons(sql: string): string {
  return sql.replace(/(?<![A-Za-z0-9_])'(?:[^']|'')*'/g, (quoted) =>
    quoted.includes(':') ? `E${quoted.replace(/\\/g, '\\\\').replace(/:/g, '\\x3a')}` : quoted,
  );
}

/**
 * The same transaction as a pgbench script: a random tenant number, then one statement
 * that both sets the request's settings and reads the tenant's ids into variables
 * (the API's set_config round trip), the API's statements, commit.
 */
export function pgbenchScript(template: SqlTemplate, fixed: Pick<RequestValues, 'name' | 'word'>): string {
  const settingExpression = (value: string) => {
    for (const [key, variable] of Object.entries(PGBENCH_VARIABLES))
      if (value === mark(key as Key)) return `${variable}::text`;
    return literal(value);
  };
  const settings = template.settings.map(
    ([name, value], index) =>
      `set_config(${literal(name)}, ${settingExpression(value)}, true) as setting_${index}`,
  );
  const parameter = (value: unknown) => {
    if (typeof value === 'string') {
      for (const [key, variable] of Object.entries(PGBENCH_VARIABLES))
        if (value === mark(key as Key)) return `:${variable}`;
      if (value.includes('\u0001')) {
        // The marks are control characters on purpose: no request value contains them.
        // eslint-disable-next-line no-control-regex
        if (/\u0001(tenant|user|product|category)\u0001/.test(value))
          throw new Error('a tenant value inside a larger parameter');
        return literal(value.split(mark('name')).join(fixed.name).split(mark('word')).join(fixed.word));
      }
    }
    return literal(value);
  };
  const statements = template.statements.map((statement) => {
    const text = hideColons(
      statement.text
        .trim()
        .replace(/;$/, '')
        .replace(/\$(\d+)/g, (_match, index: string) => parameter(statement.values?.[Number(index) - 1])),
    );
    return `${text};`;
  });
  return [
    '\\set t random(1, :tenants)',
    'begin;',
    `select ${hideColons(settings.join(', '))}, tenant_id, user_id, product_id, category_id from bench.tenant_index where n = :t \\gset`,
    ...statements,
    'commit;',
    '',
  ].join('\n');
}
