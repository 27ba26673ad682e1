import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../support/netns.js';
import { NodeProcess } from '../../support/node-process.js';
import { sleep, waitFor } from '../../support/wait.js';

/**
 * Five real node processes, each in its own network namespace on one bridge,
 * LAN gossip timings. 10% packet loss and 50 ms jitter on every node for 60 s
 * → nobody is declared dead (Lifeguard). Then one node's link is cut → every
 * other node declares it dead within the suspicion timeout; the link comes
 * back → it rejoins.
 */
const N = 5;
const GOSSIP = 10101;
const HTTP = 8080;

describe('membership across network namespaces (LAN timings)', () => {
  const net = new TestNetwork(83);
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    net.create(N);
    net.attachRoot();
    for (let i = 0; i < N; i++) {
      const host = net.hosts[i]!;
      nodes.push(
        new NodeProcess({
          netns: host.ns,
          httpHost: host.ip,
          config: {
            server: { host: '0.0.0.0', port: HTTP, drain_accept_seconds: 0 },
            cluster_config: {
              enabled: true,
              node_name: `ns-${i + 1}`,
              bind_address: host.ip,
              peers: net.hosts.filter((h) => h !== host).map((h) => `${h.ip}:${GOSSIP}`),
              gossip: {
                port: GOSSIP,
                config: {
                  timeout_seconds: 1,
                  interval_seconds: 0.5,
                  success_threshold: 2,
                  failure_threshold: 2,
                },
              },
            },
          },
        }).start(),
      );
    }
    await Promise.all(nodes.map((n) => n.waitReady(30_000)));
    await healthy(nodes, N);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    net.destroy();
  });

  async function healthy(on: NodeProcess[], n: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () =>
        (await Promise.all(on.map((x) => x.status()))).every(
          (s) => s.members === n && s.healthy_members === n,
        ),
      { timeoutMs, intervalMs: 200, what: `${n} healthy members` },
    );
  }

  /**
   * Every node sees every member alive, none suspect. A suspicion a node raised while it was cut off
   * never reached its target (the gossip went nowhere), so it stays pending until the target hears it
   * and refutes or the timer fires: in CI one such leftover from the cut test fired 15 s into the loss
   * test and was counted as a loss-and-jitter death. Hence the loss test runs first, on this check.
   */
  async function settled(on: NodeProcess[]): Promise<void> {
    await waitFor(
      async () =>
        (await Promise.all(on.map((x) => x.status()))).every(
          (s) => s.nodes.length === on.length && s.nodes.every((n) => n.state === 'alive'),
        ),
      { timeoutMs: 30_000, intervalMs: 200, what: 'every member alive on every node' },
    );
  }

  /** Acked probes so far, and how many of them within 10 ms (nearly all on an unimpaired bridge). */
  async function probeRtt(n: NodeProcess): Promise<{ fast: number; count: number }> {
    const text = await (await fetch(`${n.url}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return Number(line?.split(' ')[1] ?? Number.NaN);
    };
    return {
      fast: value('deepintshield_gossip_probe_rtt_seconds_bucket{le="0.01"}'),
      count: value('deepintshield_gossip_probe_rtt_seconds_count'),
    };
  }

  it('10% packet loss and 50 ms jitter on every node for 60 s: nobody declared dead', async () => {
    const seconds = Number(process.env.DIS_LOSS_SECONDS ?? 60);
    await settled(nodes);
    // What `tc netem loss 10% delay 50ms 50ms` does (see TestNetwork.degrade: no netem in this kernel).
    for (let i = 1; i <= N; i++) await net.degrade(i, { lossPercent: 10, delayMs: 50, jitterMs: 50 });
    const states = new Map<string, Set<string>>();
    const rttBefore = await probeRtt(nodes[0]!);
    let rttAfter = rttBefore;
    try {
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        for (const s of await Promise.all(nodes.map((x) => x.status().catch(() => undefined)))) {
          for (const n of s?.nodes ?? []) {
            const set = states.get(n.name) ?? new Set<string>();
            set.add(n.state);
            states.set(n.name, set);
          }
        }
        await sleep(250);
      }
      rttAfter = await probeRtt(nodes[0]!);
    } finally {
      for (let i = 1; i <= N; i++) await net.clearDegrade(i);
    }
    // The delay was really there: ping and ack each waited 0–100 ms, so few probes came back within 10 ms.
    const probes = rttAfter.count - rttBefore.count;
    const fastShare = (rttAfter.fast - rttBefore.fast) / probes;
    console.log(`probes acked under jitter: ${probes}, within 10 ms: ${(fastShare * 100).toFixed(0)}%`);
    expect(probes).toBeGreaterThan(seconds / 2);
    expect(fastShare).toBeLessThan(0.2);
    console.log(
      `loss + jitter ${seconds}s: states seen ${JSON.stringify(Object.fromEntries([...states].map(([k, v]) => [k, [...v]])))}`,
    );
    if ([...states.values()].some((set) => set.has('dead'))) {
      // What each failure detector decided and when: enough to tell loss from a stalled process.
      const decided = /suspect|refuting|failed/;
      nodes.forEach((n, i) => {
        for (const l of n.logs.filter((x) => decided.test(x.msg)))
          console.log(`ns-${i + 1}: ${JSON.stringify(l)}`);
      });
    }
    for (const [name, set] of states) expect(set.has('dead'), `${name} declared dead`).toBe(false);
    await healthy(nodes, N);
  }, 120_000);

  it('a cut link: dead on all others within the suspicion timeout; restored: rejoins', async () => {
    const others = nodes.slice(0, N - 1);
    net.setLink(N, false);
    const cutAt = Date.now();
    const seenDead: number[] = [];
    await waitFor(
      async () => {
        const all = await Promise.all(others.map((x) => x.status()));
        all.forEach((s, i) => {
          if (seenDead[i] === undefined && s.nodes.find((n) => n.name === `ns-${N}`)?.state === 'dead')
            seenDead[i] = Date.now() - cutAt;
        });
        return seenDead.filter((x) => x !== undefined).length === others.length;
      },
      { timeoutMs: 40_000, intervalMs: 100, what: 'the cut node dead on every other node' },
    );
    // LAN: probe 1 s, suspicion min 4 s × log10(5)→1 … max 24 s; with ≥2 confirmations ≈ 4–6 s after the
    // first failed probe. Bound: one probe round per member to reach it + the suspicion timeout.
    const worst = Math.max(...seenDead);
    console.log(`link cut: dead on all ${others.length} others after ${seenDead.join(', ')} ms`);
    expect(worst).toBeLessThan(5 * 1000 + 24_000);
    net.setLink(N, true);
    const restoredAt = Date.now();
    await healthy(nodes, N, 45_000);
    console.log(`link restored: ${N} HEALTHY again after ${Date.now() - restoredAt} ms`);
    const inc = (await nodes[0]!.status()).nodes.find((n) => n.name === `ns-${N}`)!.incarnation;
    expect(inc).toBeGreaterThan(1);
  }, 120_000);
});
