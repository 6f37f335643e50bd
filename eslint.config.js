// `npm run lint`: ESLint's and typescript-eslint's recommended rules, type-aware (the
// project's tsconfig), plus the few that catch bugs this codebase could have: a promise
// nobody awaits (a request that fails silently, a pool never ended).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      '**/node_modules/',
      // npm run build's output (git-ignored).
      'dist/',
      'examples/web/src/gql/',
      'examples/web/dist/',
      'bench/results/',
      'data/',
      '.data/',
      'migrations/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // `declare global { namespace Express { ... } }` is how Express and grafast types are extended.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      // `_name` says "deliberately unused" (a callback's position, a destructured omission).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and the bench read GraphQL responses: JSON whose shape is what they check,
    // at run time, field by field; typing every response would restate the schema.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    // bin/*.js and the configs run in Node: its globals, declared here rather than through
    // another package.
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
);
