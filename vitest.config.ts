import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One fresh, fully migrated database per run (embedded, or on TEST_DATABASE_URL).
    globalSetup: ['test/setup/database.ts'],
    setupFiles: ['test/setup/close-pools.ts'],
    include: ['test/**/*.test.ts'],
    // Grafast reads this at import; tests run the server as production does.
    env: { GRAPHILE_ENV: 'production', NODE_ENV: 'test' },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
