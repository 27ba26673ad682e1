import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../../src/cluster/cluster.js';
import { DistributedCounters } from '../../../src/cluster/state/counters.js';
import { ClusterKeyGate } from '../../../src/cluster/state/key-gate.js';
import { windowStart } from '../../../src/config/duration.js';
import { clusterSchema, providerSchema } from '../../../src/config/schema.js';
import { freePorts } from '../../support/ports.js';
import { sleep, waitFor } from '../../support/wait.js';
import { FAST, silentLogger } from '../membership/helpers.js';

/** The state layer over the real gossip layer: 3 Cluster instances on loopback in this process. */
describe('counters and key gate over real gossip (3 in-process cluster members)', () => {
  const nodes: { cluster: Cluster; counters: DistributedCounters; gate: ClusterKeyGate }[] = [];

  beforeAll(async () => {
    const ports = await freePorts(6);
    for (let i = 0; i < 3; i++) {
      const cluster = new Cluster({
        config: clusterSchema.parse({
          enabled: true,
          node_name: `rg-${i + 1}`,
          bind_address: '127.0.0.1',
          peers: i === 0 ? [] : [`127.0.0.1:${ports[0]}`],
          gossip: { port: ports[i], config: { timeout_seconds: 1, interval_seconds: 5 } },
        }),
        httpAddress: `127.0.0.1:${ports[3 + i]}`,
        version: 'test',
        logger: silentLogger(),
        registry: new Registry(),
        timings: FAST,
        traffic: () => ({ rps: 0, in_flight: 0, error_rate: 0 }),
      });
      const counters = new DistributedCounters({ nodeName: `pre-${i}` });
      const gate = new ClusterKeyGate(counters);
      gate.setProviders({ openai: providerSchema.parse({ keys: [{ name: 'k', value: 'sk-x' }] }) });
      counters.attachCluster(cluster);
      gate.attachCluster(cluster);
      await cluster.start();
      nodes.push({ cluster, counters, gate });
    }
    await waitFor(
      () => nodes.every((n) => n.cluster.members().filter((m) => m.state === 'alive').length === 3),
      {
        timeoutMs: 15_000,
        what: '3 alive members everywhere',
      },
    );
  });

  afterAll(async () => {
    for (const n of nodes) n.counters.close();
    await Promise.all(nodes.map((n) => n.cluster.shutdown()));
  });

  it('holds a shared request limit within 1% over / 3% under per window, 70/20/10 at 3x', async () => {
    const limit = 150;
    const spec = { key: 'vk:rg:req', limit, duration: { kind: 'fixed' as const, ms: 2000 } };
    const weights = [0.7, 0.2, 0.1];
    const perMs = (3 * limit) / 2000;
    const admitted = new Map<number, number>();
    // Start just after a window boundary; run 3 full windows (bounded: ~6 s, ≤ 1400 attempts).
    await sleep(2000 - (Date.now() % 2000) + 20);
    const first = windowStart(spec.duration, Date.now());
    const end = first + 3 * 2000;
    const credit = [0, 0, 0];
    let last = Date.now();
    let attempts = 0;
    while (Date.now() < end && attempts < 1400) {
      const now = Date.now();
      const dt = now - last;
      last = now;
      for (let i = 0; i < 3; i++) {
        credit[i]! += dt * perMs * weights[i]!;
        while (credit[i]! >= 1) {
          credit[i]! -= 1;
          attempts++;
          if (nodes[i]!.counters.acquire(spec).ok) {
            const ws = windowStart(spec.duration, Date.now());
            admitted.set(ws, (admitted.get(ws) ?? 0) + 1);
          }
        }
      }
      await sleep(3);
    }
    const totals = [0, 1, 2].map((k) => admitted.get(first + k * 2000) ?? 0);
    for (const t of totals) {
      expect(t, totals.join(',')).toBeLessThanOrEqual(limit * 1.01);
      expect(t, totals.join(',')).toBeGreaterThanOrEqual(limit * 0.97 - 1);
    }
  });

  it("a provider key's cool-down reaches every node", async () => {
    nodes[2]!.gate.coolDown('openai', 'k', 3000, 'rate_limited');
    await waitFor(() => nodes.every((n) => !n.gate.tryAcquire('openai', 'k')), {
      timeoutMs: 2000,
      intervalMs: 10,
      what: 'cool-down everywhere',
    });
  });
});
