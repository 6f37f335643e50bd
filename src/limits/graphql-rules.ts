// graphql-armor's document rules, loaded as CommonJS on purpose: PostGraphile's schema
// comes from the CommonJS copy of `graphql`, and a rule bound to the ES module copy
// would reject that schema's types ("from another module or realm").
import { createRequire } from 'node:module';
import type { ValidationRule } from 'graphql';

const require = createRequire(import.meta.url);

export const { maxDepthRule } = require('@escape.tech/graphql-armor-max-depth') as {
  maxDepthRule: (options: { n: number; exposeLimits?: boolean }) => ValidationRule;
};
export const { maxAliasesRule } = require('@escape.tech/graphql-armor-max-aliases') as {
  maxAliasesRule: (options: { n: number; exposeLimits?: boolean }) => ValidationRule;
};
export const { maxDirectivesRule } = require('@escape.tech/graphql-armor-max-directives') as {
  maxDirectivesRule: (options: { n: number; exposeLimits?: boolean }) => ValidationRule;
};
