import { defineConfig } from 'vitest/config';

/**
 * Files that assert "under network impairment nobody is declared dead". They
 * test the failure detector against packet loss and jitter, not against CPU
 * starvation: on this 2-core machine a neighbour file starting 15 node
 * processes can stall a node's event loop past the 500 ms probe timeout, and
 * Lifeguard then (rightly) suspects it. So they run after everything else,
 * one file at a time, with the machine to themselves.
 *
 * Vitest 3 builds one forks pool from the root config: `maxForks` in a
 * project is ignored (it fell back to cores − 1 = one fork, and CI took
 * 935 s instead of ~600 s), and so is a project's `fileParallelism`. What a
 * project can choose is `singleFork`: its files then run one after another
 * in one fork, after the multi-fork files of the same group.
 */
const timingSensitive = ['test/cluster/membership/netns.test.ts', 'test/chaos/rolling-and-crash.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // 2 cores: real processes and servers in most tests, so keep parallelism modest.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
    // No test may be skipped in CI: a missing dependency is a failure there.
    allowOnly: !process.env.CI,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: timingSensitive,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'timing',
          include: timingSensitive,
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
