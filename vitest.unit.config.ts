import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: pure unit tests only. No root, no system packages, no
 * built dist/, no servers or child processes, so no global setup. Seconds.
 * `npm test` (vitest.config.ts) still runs these along with everything else.
 * A file belongs here only if it imports nothing that listens, spawns or
 * needs a Debian package.
 */
export default defineConfig({
  test: {
    include: [
      'test/server/router.test.ts',
      'test/server/process-guard.test.ts',
      'test/config/secrets.test.ts',
      'test/security/forged-gossip.test.ts',
      'test/cluster/membership/codec.test.ts',
      'test/cluster/membership/decoder-fuzz.test.ts',
      'test/cluster/membership/state-machine.test.ts',
      'test/cluster/state/counters.test.ts',
      'test/cluster/state/key-gate.test.ts',
      'test/cluster/state/limiter.test.ts',
      'test/cluster/state/peers.test.ts',
      'test/cluster/state/wire.test.ts',
      'test/cluster/state/demand.test.ts',
      'test/cluster/state/window-table.test.ts',
      'test/cluster/state/demand-view.test.ts',
      'test/cluster/state/merge.test.ts',
      'test/providers/translate.test.ts',
      'test/deploy/docs.test.ts',
      'test/gateway/stream-check.test.ts',
      'test/gateway/body-scrub.test.ts',
      'test/gateway/genai-path.test.ts',
    ],
    pool: 'threads',
    testTimeout: 30_000,
    allowOnly: !process.env.CI,
    passWithNoTests: false,
  },
});
