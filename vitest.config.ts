import { defineConfig } from 'vitest/config';

/**
 * Two projects: mr (the product's tests) and the Spark Connect client package
 * (spark/connect): its unit tests, and its cluster tests, which run against the local
 * Spark cluster provided by fixtures/spark/connect-server.ts.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'mr',
          include: ['cli/**/*.test.ts', 'engine/**/*.test.ts', 'spark/**/*.test.ts', 'bench/**/*.test.ts', 'k8s/**/*.test.ts', 'docker/**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'spark/connect/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'spark-connect',
          include: ['spark/connect/test/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'spark-connect-cluster',
          include: ['spark/connect/test/cluster/*.test.ts'],
          globalSetup: ['fixtures/spark/connect-server.ts'],
        },
      },
    ],
  },
});
