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
    // expect.poll waits until its condition holds; 1 s (vitest's default) was a guess that a
    // busy machine broke (a headless browser re-rendering a filtered list). A condition that
    // never holds still fails, later.
    expect: { poll: { timeout: 15_000 } },
  },
});
