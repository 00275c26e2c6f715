import { defineConfig } from 'vitest/config';

// Two projects: `unit` (next to the code, no servers, seconds) and `integration` (test/integration and
// test/e2e against the real control plane, OpenBao and moto started once by the global setup).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'bench/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Suites share one control plane; files run one after another so their timings are honest
          // on a 2-core machine and namespaces do not race on cluster-scoped objects.
          fileParallelism: false,
        },
      },
      // `npm run soak` only (NHI_SOAK=1): the reliability suites at full size, which rewrite
      // docs/reliability.md. Without the variable the project does not exist, so `npm test` never runs it.
      ...(process.env.NHI_SOAK
        ? [
            {
              test: {
                name: 'soak',
                include: ['test/soak/**/*.test.ts'],
                environment: 'node',
                globalSetup: ['test/support/global-setup.ts'],
                testTimeout: 4 * 3_600_000,
                hookTimeout: 180_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
