// The inline examples of the README and docs/ that name a field and its arguments, such as
// `createTenant(input: {name, slug})` or `auditEvents(orderBy: ROW_ID_DESC)`, checked
// against schema.graphql: the field exists, each argument exists, each input field
// named exists, and an enum value is one of the argument's. (The ```graphql blocks are
// run for real by test/cost-model.test.ts.) Once, `orderBy: ID_DESC` was a 400.
import { readdir, readFile } from 'node:fs/promises';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isObjectType,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import { expect, test } from 'vitest';

const docs = new URL('../docs/', import.meta.url);
const pages = [
  new URL('../README.md', import.meta.url),
  ...(await readdir(docs)).filter((name) => name.endsWith('.md')).map((name) => new URL(name, docs)),
];
const readme = (await Promise.all(pages.map((page) => readFile(page, 'utf8')))).join('\n');
const schema = buildSchema(await readFile(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** Inline code spans of the form `field(arguments)`; snake_case names are SQL's (`set_config(…)`). */
const examples = [...readme.matchAll(/`([a-z][A-Za-z0-9]*)\(([^()`]*)\)`/g)].map(([span, field, args]) => ({
  span,
  field: field!,
  args: args!,
}));

/** Splits on commas outside braces and brackets. */
function topLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let part = '';
  for (const char of list) {
    if (char === ',' && depth === 0) {
      parts.push(part);
      part = '';
      continue;
    }
    if ('{['.includes(char)) depth++;
    if ('}]'.includes(char)) depth--;
    part += char;
  }
  return [...parts, part].map((item) => item.trim()).filter(Boolean);
}

/** The field of that name: on a root type first, else on any object type. */
function fieldNamed(graphql: GraphQLSchema, name: string): GraphQLField<unknown, unknown> | undefined {
  const roots = [graphql.getQueryType(), graphql.getMutationType(), graphql.getSubscriptionType()];
  const others = Object.values(graphql.getTypeMap()).filter(isObjectType);
  for (const type of [...roots, ...others]) {
    const field = type?.getFields()[name];
    if (field) return field;
  }
  return undefined;
}

/** What is wrong with one example; empty when nothing is. */
function problemsOf(field: string, args: string): string[] {
  const definition = fieldNamed(schema, field);
  if (!definition) return [`no field ${field}`];
  const problems: string[] = [];
  for (const item of topLevel(args)) {
    const [, name, value = ''] = /^(\w+)\s*(?::\s*([\s\S]*))?$/.exec(item) ?? [];
    const arg = definition.args.find((candidate) => candidate.name === name);
    if (!arg) {
      problems.push(`${field} has no argument ${name ?? item}`);
      continue;
    }
    const type = getNamedType(arg.type);
    const inner = /^\{([\s\S]*)\}$/.exec(value.trim())?.[1];
    if (inner !== undefined && isInputObjectType(type)) {
      for (const key of topLevel(inner).map((entry) => entry.split(':')[0]!.trim()))
        if (!type.getFields()[key]) problems.push(`${type.name} has no field ${key}`);
    } else if (/^\[?[A-Z][A-Z0-9_]*\]?$/.test(value.trim()) && isEnumType(type)) {
      const enumValue = value.trim().replace(/[[\]]/g, '');
      if (!type.getValue(enumValue)) problems.push(`${type.name} has no value ${enumValue}`);
    }
  }
  return problems;
}

test('the check itself catches a wrong field, argument, input field or enum value', () => {
  expect(problemsOf('auditEvents', 'orderBy: ID_DESC')).toEqual(['AuditEventOrderBy has no value ID_DESC']);
  expect(problemsOf('createTenant', 'input: {name, slugg}')).toEqual([
    'CreateTenantInput has no field slugg',
  ]);
  expect(problemsOf('invitationPreview', 'token')).toEqual(['invitationPreview has no argument token']);
  expect(problemsOf('auditEvent', 'first: 1')).toEqual(['no field auditEvent']);
});

test('every README and docs/ example `field(arguments)` names a field, arguments and values of the schema', () => {
  expect(examples.map((example) => example.field)).toEqual(
    expect.arrayContaining(['auditEvents', 'createTenant', 'acceptInvitation']),
  );
  const wrong = examples.flatMap((example) =>
    problemsOf(example.field, example.args).map((problem) => `${example.span}: ${problem}`),
  );
  expect(wrong).toEqual([]);
});
