import { describe, expect, it } from 'vitest';
import { DistributedCounters } from '../../../src/cluster/state/counters.js';
import { ClusterKeyGate } from '../../../src/cluster/state/key-gate.js';
import { providerSchema } from '../../../src/config/schema.js';
import { FakeNetwork } from './fake-network.js';

function cluster3() {
  const net = new FakeNetwork({ seed: 3 });
  net.now = 1_000_000 * 60_000;
  const providers = {
    openai: providerSchema.parse({
      keys: [
        { name: 'a', value: 'sk-a', rpm_limit: 30 },
        { name: 'b', value: 'sk-b' },
      ],
    }),
  };
  const nodes = ['n1', 'n2', 'n3'].map((name) => {
    const cl = net.add(name);
    const counters = new DistributedCounters({ nodeName: name, now: () => net.now, timers: false });
    const gate = new ClusterKeyGate(counters, { now: () => net.now });
    gate.setProviders(providers);
    counters.attachCluster(cl);
    gate.attachCluster(cl);
    return { name, counters, gate };
  });
  net.pushPull();
  const run = (ms: number) =>
    net.run(
      nodes.map((n) => n.counters),
      ms,
    );
  return { net, nodes, run };
}

describe('provider key gate over the fake gossip network', () => {
  it("a provider's 429 cool-down on one node is honoured by every node, and ends", () => {
    const { nodes, run } = cluster3();
    for (const n of nodes) expect(n.gate.tryAcquire('openai', 'b')).toBe(true);
    nodes[0]!.gate.coolDown('openai', 'b', 2000, 'rate_limited');
    expect(nodes[0]!.gate.tryAcquire('openai', 'b')).toBe(false);
    run(50);
    for (const n of nodes) {
      expect(n.gate.tryAcquire('openai', 'b')).toBe(false);
      expect(n.gate.coolingUntil('openai', 'b')).toBeGreaterThan(0);
    }
    run(2000);
    for (const n of nodes) expect(n.gate.tryAcquire('openai', 'b')).toBe(true);
  });

  it('a node joining later learns active cool-downs from push/pull state', () => {
    const { net, nodes, run } = cluster3();
    nodes[1]!.gate.coolDown('openai', 'a', 10_000, 'auth_failed');
    const cl = net.add('n4');
    const counters = new DistributedCounters({ nodeName: 'n4', now: () => net.now, timers: false });
    const gate = new ClusterKeyGate(counters, { now: () => net.now });
    gate.attachCluster(cl);
    net.pushPull();
    run(10);
    expect(gate.tryAcquire('openai', 'a')).toBe(false);
  });

  it('per-key rpm cap holds cluster-wide', () => {
    const { nodes, run } = cluster3();
    let ok = 0;
    // 90 attempts spread over the nodes within one minute against rpm_limit 30.
    for (let i = 0; i < 90; i++) {
      if (nodes[i % 3]!.gate.tryAcquire('openai', 'a')) ok++;
      run(100);
    }
    expect(ok).toBeLessThanOrEqual(30);
    expect(ok).toBeGreaterThanOrEqual(28);
    // Keys without caps are never limited.
    for (let i = 0; i < 100; i++) expect(nodes[0]!.gate.tryAcquire('openai', 'b')).toBe(true);
  });
});
