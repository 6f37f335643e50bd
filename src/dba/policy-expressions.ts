// Reading a policy's expression as PostgreSQL prints it back (pg_get_expr, with the
// search_path pinned to pg_catalog so every name outside pg_catalog is qualified).
//
// Conservative on purpose: an expression counts as tied to the current tenant only in
// the shapes tenantgraph writes, so anything cleverer is reported (and can be waived
// with a reason) rather than passed in silence.
import type pg from 'pg';

/** The expression with every string literal and quoted identifier blanked out (same length). */
function masked(text: string): string {
  return text.replace(
    /'(?:[^']|'')*'|"(?:[^"]|"")*"/g,
    (literal) => literal[0] + ' '.repeat(literal.length - 2) + literal[0],
  );
}

/** Depth of parentheses before each position of a masked text. */
function depths(maskedText: string): number[] {
  const result: number[] = [];
  let depth = 0;
  for (const char of maskedText) {
    if (char === ')') depth -= 1;
    result.push(depth);
    if (char === '(') depth += 1;
  }
  return result;
}

/** Without the parentheses that enclose the whole expression, if any. */
function unwrapped(text: string): string {
  let current = text.trim();
  for (;;) {
    if (!current.startsWith('(') || !current.endsWith(')')) return current;
    const level = depths(masked(current));
    // The opening parenthesis must close at the very end, not earlier.
    if (level.slice(1, -1).some((depth) => depth < 1)) return current;
    current = current.slice(1, -1).trim();
  }
}

/** The operands of a top-level AND or OR chain (one operand when there is none). */
function operands(text: string, keyword: 'AND' | 'OR'): string[] {
  const hidden = masked(text);
  const level = depths(hidden);
  const parts: string[] = [];
  const separator = new RegExp(`\\s${keyword}\\s`, 'g');
  let start = 0;
  for (const match of hidden.matchAll(separator)) {
    if (level[match.index] !== 0) continue;
    parts.push(text.slice(start, match.index));
    start = match.index + match[0].length;
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim());
}

/** The top-level AND operands of an expression (the expression itself when it is no AND). */
export function conjuncts(expression: string): string[] {
  return operands(unwrapped(expression), 'AND').map(unwrapped);
}

export interface TenantTie {
  /** The column that names a row's tenant. */
  column: string;
  /** The function returning the request's tenant, schema-qualified: app_public.current_tenant_id. */
  currentTenant: string;
}

function isTenantComparison(text: string, tie: TenantTie): boolean {
  const normalised = unwrapped(text).replace(/\s+/g, ' ');
  const name = tie.currentTenant.split('.').at(-1)!;
  const current = [
    `${tie.currentTenant}()`,
    `( SELECT ${tie.currentTenant}() AS ${name})`,
    `(SELECT ${tie.currentTenant}() AS ${name})`,
  ];
  return current.some(
    (side) => normalised === `${tie.column} = ${side}` || normalised === `${side} = ${tie.column}`,
  );
}

/**
 * Whether every row the expression admits belongs to the current tenant: the expression
 * implies `tenant_id = current_tenant_id()`. True for that comparison itself (the helper
 * called directly or through a sub-select), for an AND with such an operand, for an OR
 * all of whose operands are, and for `false` (which admits nothing).
 */
export function tiesToCurrentTenant(expression: string, tie: TenantTie): boolean {
  const text = unwrapped(expression);
  if (/^false$/i.test(text)) return true;
  // CASE and NOT turn a condition around; too clever to vouch for.
  const hidden = masked(text);
  const level = depths(hidden);
  const topLevel = [...hidden].map((char, i) => (level[i] === 0 ? char : ' ')).join('');
  if (/\b(CASE|NOT)\b/.test(topLevel)) return false;
  const alternatives = operands(text, 'OR');
  if (alternatives.length > 1) return alternatives.every((part) => tiesToCurrentTenant(part, tie));
  const conditions = operands(text, 'AND');
  if (conditions.length > 1) return conditions.some((part) => tiesToCurrentTenant(part, tie));
  return isTenantComparison(text, tie);
}

/**
 * Calls to helper functions (of the given schemas, and current_setting) with only
 * constant arguments that are not the whole of a sub-select `( SELECT f() AS f)`: such a
 * call runs once per row instead of once per statement. Returns each call as printed.
 */
export function unwrappedHelperCalls(expression: string, helperSchemas: string[]): string[] {
  const hidden = masked(expression);
  const calls: string[] = [];
  const schemas = helperSchemas.map((schema) => schema.replace(/[^a-z0-9_]/gi, '')).join('|');
  const call = new RegExp(`(?<![\\w."])(?:(?:${schemas})\\.[a-z_][a-z0-9_$]*|current_setting)\\(`, 'gi');
  for (const match of hidden.matchAll(call)) {
    const open = match.index + match[0].length - 1;
    let depth = 0;
    let close = open;
    for (; close < hidden.length; close += 1) {
      if (hidden[close] === '(') depth += 1;
      if (hidden[close] === ')' && --depth === 0) break;
    }
    const args = hidden.slice(open + 1, close);
    // Only literals (strings, numbers, booleans, NULL) and casts of them: the same value for every row.
    const constant =
      args
        .replace(/'\s*'/g, '')
        .replace(/::[\w.]+(\[\])?/g, '')
        .replace(/\b(true|false|NULL)\b/gi, '')
        .replace(/[\d.\s,-]/g, '') === '';
    if (!constant) continue;
    const wrapped = /\(\s*SELECT\s+$/i.test(hidden.slice(0, match.index));
    if (!wrapped) calls.push(expression.slice(match.index, close + 1));
  }
  return calls;
}

/**
 * The sub-selects of a policy expression that Citus refuses: every `SELECT` in it except
 * the wrapper `( SELECT schema.helper() AS helper)`, which app_private.distribute rewrites
 * to a direct call (app_private.citus_unwrap_policies, migration 000023: the same pattern).
 * Returns each sub-select as printed, from its parenthesis or keyword to the end of its
 * parenthesised group.
 */
export function citusSubSelects(expression: string): string[] {
  const wrapper = /\(\s*SELECT\s+[a-z_]+\.[a-z_]+\(\)\s+AS\s+[a-z_]+\)/gi;
  // Blank out literals, then the wrappers (same length, so positions still match the text).
  const hidden = masked(expression).replace(wrapper, (text) => ' '.repeat(text.length));
  const found: string[] = [];
  for (const match of hidden.matchAll(/\bSELECT\b/gi)) {
    const open = hidden.lastIndexOf('(', match.index);
    let depth = 0;
    let close = open;
    for (; close < hidden.length; close += 1) {
      if (hidden[close] === '(') depth += 1;
      if (hidden[close] === ')' && --depth === 0) break;
    }
    found.push(expression.slice(Math.max(open, 0), close + 1).replace(/\s+/g, ' '));
  }
  return found;
}

/**
 * Whether a policy expression holds for `row` (a partial row of `relation`, other
 * columns NULL), evaluated by PostgreSQL as the client's current role; NULL when it is
 * unknown. Inside a savepoint rolled back at once, so the helpers' side effects stay out.
 */
export async function evaluatePredicate(
  client: pg.ClientBase,
  relation: { name: string; alias: string },
  expression: string,
  row: Record<string, unknown>,
): Promise<boolean | null> {
  await client.query('savepoint predicate');
  try {
    const { rows } = await client.query<{ passed: boolean | null }>(
      `select (${expression}) as passed from json_populate_record(null::${relation.name}, $1::json) as ${relation.alias}`,
      [JSON.stringify(row)],
    );
    return rows[0]?.passed ?? null;
  } finally {
    await client.query('rollback to savepoint predicate');
  }
}
