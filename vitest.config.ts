import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['cli/**/*.test.ts', 'engine/**/*.test.ts', 'spark/**/*.test.ts', 'bench/**/*.test.ts', 'k8s/**/*.test.ts', 'docker/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
