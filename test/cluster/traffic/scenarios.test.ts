import { describe, expect, it } from 'vitest';
import { quotaUpstream, type SimUpstream, TrafficSim } from './sim.js';

const TWO = [
  { name: 'a', weight: 1 },
  { name: 'b', weight: 1 },
];

/** Key b fails 100% from 0 s (500s for 6 s, then 2 s timeouts) until `recoverAt`; key a is healthy. */
function failingB(recoverAt: number, t0: number): SimUpstream {
  return (key, now) => {
    const t = now - t0;
    if (key === 'a' || t >= recoverAt) return { status: 200, latencyMs: 40 };
    if (t < 6000) return { status: 500, latencyMs: 20 };
    return { status: 0, failure: 'timeout', latencyMs: 2000 };
  };
}

describe('traffic scenarios on 3 simulated nodes (real TrafficService over in-memory gossip, simulated clock)', () => {
  for (const seed of [1, 2, 3, 4, 5])
    it(`a key failing 100% gets <= 2% of upstream calls after 5 s, no client fails, and is back within 10 s of recovering (seed ${seed})`, () => {
      const sim = new TrafficSim('adaptive', TWO, failingB(20_000, 1_000_000), { seed });
      sim.run(32_000, 15);
      const base = new TrafficSim('static', TWO, failingB(20_000, 1_000_000));
      base.run(32_000, 15);
      const failing = sim.share('b', 5000, 20_000);
      const failed = sim.clients.filter((c) => !c.ok).length;
      // Back in rotation: within 10 s of recovery b takes a fair share again.
      const back = sim.share('b', 26_000, 32_000);
      console.log(
        `failing key share after 5 s: adaptive ${(failing * 100).toFixed(2)}% vs static ${(base.share('b', 5000, 20_000) * 100).toFixed(1)}%; client failures adaptive ${failed} vs static ${base.clients.filter((c) => !c.ok).length}; share after recovery ${(back * 100).toFixed(1)}%`,
      );
      expect(failing).toBeLessThanOrEqual(0.02);
      expect(failed).toBe(0);
      expect(back).toBeGreaterThan(0.25);
      const firstOkAfter = sim.calls.find(
        (c) => c.key === 'b' && c.at >= sim.start + 20_000 && c.status === 200,
      );
      expect(firstOkAfter).toBeDefined();
      expect(firstOkAfter!.at - (sim.start + 20_000)).toBeLessThanOrEqual(10_000);
    });

  for (const mode of ['least-latency', 'adaptive'] as const)
    it(`${mode}: a key twice as slow gets <= 20% of traffic`, () => {
      const up: SimUpstream = (key) => ({ status: 200, latencyMs: key === 'b' ? 200 : 100 });
      const sim = new TrafficSim(mode, TWO, up);
      sim.run(30_000, 15);
      const share = sim.share('b', 5000, 30_000);
      console.log(`${mode}: slow key share ${(share * 100).toFixed(1)}%`);
      expect(share).toBeLessThanOrEqual(0.2);
      expect(share).toBeGreaterThan(0);
    });

  it('quota 9:1, 100 req / 10 s per key, 15 req/s over 3 nodes: <= 2% upstream 429s, no client failure', () => {
    const keys = [
      { name: 'a', weight: 9 },
      { name: 'b', weight: 1 },
    ];
    const run = (mode: 'adaptive' | 'static') => {
      const sim = new TrafficSim(mode, keys, quotaUpstream({ a: 100, b: 100 }, 10_000));
      sim.run(40_000, 15);
      const r429 = sim.calls.filter((c) => c.status === 429).length / sim.calls.length;
      return { sim, r429, failed: sim.clients.filter((c) => !c.ok).length };
    };
    const paced = run('adaptive');
    const base = run('static');
    console.log(
      `quota: 429s paced ${(paced.r429 * 100).toFixed(2)}% vs static ${(base.r429 * 100).toFixed(1)}%; client failures ${paced.failed} vs ${base.failed}`,
    );
    expect(paced.r429).toBeLessThanOrEqual(0.02);
    expect(paced.failed).toBe(0);
    expect(base.r429).toBeGreaterThan(paced.r429);
  });

  it('quota known only from 429s seen first by one node: the cool-down reaches the others, <= 2% 429s', () => {
    const keys = [
      { name: 'a', weight: 9 },
      { name: 'b', weight: 1 },
    ];
    const withHeaders = quotaUpstream({ a: 100, b: 100 }, 10_000);
    // Only 429 answers say anything (retry-after); successes carry no rate-limit headers.
    const up: SimUpstream = (key, now) => {
      const r = withHeaders(key, now);
      const headers: Record<string, string> =
        r.status === 429 ? { 'retry-after': r.headers!['retry-after']! } : {};
      return { ...r, headers };
    };
    const sim = new TrafficSim('adaptive', keys, up);
    sim.run(40_000, 15);
    const r429 = sim.calls.filter((c) => c.status === 429).length / sim.calls.length;
    const nodesSeeing = new Set(sim.calls.filter((c) => c.status === 429).map((c) => c.node)).size;
    console.log(`quota from 429s only: ${(r429 * 100).toFixed(2)}% 429s, seen by ${nodesSeeing} node(s)`);
    expect(r429).toBeLessThanOrEqual(0.02);
    expect(sim.clients.filter((c) => !c.ok)).toHaveLength(0);
  });
});
