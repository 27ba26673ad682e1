import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChaosCluster } from './harness.js';

/**
 * The fault-tolerance table: 5 nodes survive 2 simultaneous crashes and 7
 * survive 3, behind nginx, with a virtual key's rate limit still enforced
 * exactly by the survivors.
 */
const LIMIT = 200;
const VK = 'vk-fault-tolerance-test';

describe.each([
  { nodes: 5, crash: 2, subnet: 86 },
  { nodes: 7, crash: 3, subnet: 87 },
])('chaos: $nodes nodes survive $crash simultaneous crashes', ({ nodes, crash, subnet }) => {
  it('keeps serving, converges to the survivors, and keeps the limit', async () => {
    const chaos = new ChaosCluster({
      nodes,
      subnet,
      extraConfig: () => ({
        governance: {
          virtual_keys: [
            { id: 'ft', value: VK, rate_limit: { request_max_limit: LIMIT, request_reset_duration: '1M' } },
          ],
        },
      }),
    });
    try {
      await chaos.start();
      const killedAt = Date.now();
      for (let i = nodes - crash; i < nodes; i++) chaos.nodes[i]!.signal('SIGKILL');
      await Promise.all(chaos.nodes.slice(nodes - crash).map((n) => n.waitExit(5000)));
      const survivors = chaos.nodes.slice(0, nodes - crash);
      await chaos.waitHealthy(nodes - crash, survivors, 40_000);
      const convergeMs = Date.now() - killedAt;
      const result = await chaos.load({ rate: 100, durationSeconds: 5, streamShare: 0, vk: VK });
      const admitted = result.statuses['200'] ?? 0;
      const limited = result.statuses['429'] ?? 0;
      mkdirSync('test-artifacts', { recursive: true });
      writeFileSync(
        `test-artifacts/chaos-ft-${nodes}.json`,
        JSON.stringify({ nodes, crash, convergeMs, admitted, limited, result }, null, 2),
      );
      console.log(
        `fault tolerance ${nodes}/${crash}: converged in ${convergeMs} ms, admitted ${admitted}/${LIMIT}, 429s ${limited}, other failures ${result.failed - limited}`,
      );
      expect(result.failed - limited).toBe(0);
      expect(admitted).toBeLessThanOrEqual(Math.floor(LIMIT * 1.01));
      // Survivors keep a reservation for each crashed node's possibly-unseen last claim for the rest
      // of the window (docs/design-limits.md, "Failures"), so some under-admission is by design here.
      expect(admitted).toBeGreaterThanOrEqual(Math.floor(LIMIT * 0.85));
    } finally {
      await chaos.destroy();
    }
  }, 180_000);
});
