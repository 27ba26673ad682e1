import { describe, expect, it } from 'vitest';
import { DistributedCounters } from '../../../src/cluster/state/counters.js';
import { FakeNetwork } from './fake-network.js';
import { Sim } from './sim.js';

const L = 600;
/** Over-admission allowed per window, cluster-wide. */
const OVER = L * 0.01;
/** Under-admission allowed per window when demand exceeds the limit. */
const UNDER = L * 0.03;

function expectWithin(totals: number[], windows: number[], lo: number, hi: number) {
  for (const w of windows) {
    expect(totals[w], `window ${w}: ${totals.join(',')}`).toBeLessThanOrEqual(hi);
    expect(totals[w], `window ${w}: ${totals.join(',')}`).toBeGreaterThanOrEqual(lo);
  }
}

describe('distributed counters (3 nodes, in-memory gossip, simulated clock)', () => {
  it('single node without a cluster is exact', () => {
    let now = 1_000_000;
    const c = new DistributedCounters({ timers: false, now: () => now });
    const spec = { key: 'k', limit: 100, duration: { kind: 'fixed' as const, ms: 60_000 } };
    let ok = 0;
    for (let i = 0; i < 250; i++) if (c.acquire(spec).ok) ok++;
    expect(ok).toBe(100);
    expect(c.acquire(spec).remaining).toBe(0);
    now += 60_000;
    expect(c.acquire(spec).ok).toBe(true);
    // check/add: admitted while not reached, charged after.
    const tok = { key: 't', limit: 1000, duration: { kind: 'fixed' as const, ms: 60_000 } };
    expect(c.check(tok).ok).toBe(true);
    c.add(tok, 999);
    expect(c.check(tok).ok).toBe(true);
    c.add(tok, 50);
    expect(c.check(tok).ok).toBe(false);
    expect(c.peek(tok).remaining).toBe(0);
  });

  it('70/20/10 load at 3x the limit: within 1% over and 3% under in every window, for several seeds', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = Sim.run({ seed, windows: 3, limit: L });
      expectWithin(s.totals(), [0, 1, 2], L - UNDER, L + OVER);
    }
  });

  it('beats the naive per-node limiter when load is skewed', () => {
    const leased = Sim.run({ windows: 2, weights: [0.96, 0.02, 0.02], overload: 1.5 }).totals();
    const naive = Sim.run({ windows: 2, weights: [0.96, 0.02, 0.02], overload: 1.5, naive: true }).totals();
    expectWithin(leased, [0, 1], L - UNDER, L + OVER);
    // The naive limiter gives the busy node a third of the limit.
    expect(Math.max(...naive)).toBeLessThan(L * 0.5);
  });

  it('tolerates message loss and slow gossip without over-admitting', () => {
    expectWithin(Sim.run({ windows: 3, lossRate: 0.1 }).totals(), [0, 1, 2], L - UNDER, L + OVER);
    expectWithin(Sim.run({ windows: 3, latencyMs: [20, 120] }).totals(), [0, 1, 2], L - UNDER * 2, L + OVER);
  });

  it("a node killed 4 s before a window starts: the survivors' next window is not held back by its share", () => {
    // The dead node is unreachable (suspect) 1 s after the kill; a window starting within the 2 s a cut-off
    // peer may take to notice would still reserve its share (70% of the limit here). 5 s of it did.
    const s = Sim.run({ windows: 3, events: [{ at: 116_000, run: (x) => x.net.kill('a') }] });
    const totals = s.totals();
    const offered2 = Object.values(s.offered[2]!).reduce((a, b) => a + b, 0);
    expect(totals[2]).toBeLessThanOrEqual(L + OVER);
    expect(totals[2]).toBeGreaterThanOrEqual(Math.min(L, offered2) - UNDER);
  });

  it('a node killed mid-window: what it admitted is not forgotten', () => {
    for (const victim of ['a', 'c']) {
      let seenBySurvivor = 0;
      let victimAdmitted = 0;
      const s = Sim.run({
        windows: 4,
        events: [
          { at: 90_000, run: (x) => x.net.kill(victim) },
          {
            at: 95_000,
            run: (x) => {
              const survivor = x.counters.get(victim === 'a' ? 'b' : 'a')!;
              seenBySurvivor = survivor.inspect(x.spec).slots[victim]?.used ?? 0;
              victimAdmitted = x.admitted[1]![victim] ?? 0;
            },
          },
        ],
      });
      const totals = s.totals();
      for (const t of totals) expect(t).toBeLessThanOrEqual(L + OVER);
      // The survivors still count what the victim admitted before it died (up to its last flush).
      expect(seenBySurvivor).toBeGreaterThan(0);
      expect(seenBySurvivor).toBeGreaterThanOrEqual(victimAdmitted - 5);
      // Survivors (a strict majority) keep admitting in later windows, up to their demand.
      const offered2 = Object.values(s.offered[2]!).reduce((a, b) => a + b, 0);
      expect(totals[2]).toBeGreaterThanOrEqual(Math.min(L, offered2) - UNDER);
    }
  });

  it('a killed node restarting under the same name recovers its count instead of spending it again', () => {
    const s = Sim.run({
      windows: 2,
      events: [
        { at: 70_000, run: (x) => x.net.kill('a') },
        { at: 75_000, run: (x) => x.restart('a') },
      ],
    });
    for (const t of s.totals()) expect(t).toBeLessThanOrEqual(L + OVER);
  });

  it('partition: the majority side carries on, the minority keeps only what it holds, never the limit twice', () => {
    for (const groups of [
      [['a', 'b'], ['c']],
      [['a'], ['b', 'c']],
    ]) {
      const s = Sim.run({
        windows: 5,
        events: [
          { at: 70_000, run: (x) => x.net.partition(groups) },
          { at: 200_000, run: (x) => x.net.heal() },
        ],
      });
      const totals = s.totals();
      for (const t of totals) expect(t, totals.join(',')).toBeLessThanOrEqual(L + OVER);
      const minority = groups.find((g) => g.length === 1)![0]!;
      // In the window entirely inside the partition the minority claims nothing new.
      expect(s.admitted[2]![minority] ?? 0).toBe(0);
      // After healing everything is back to normal.
      expectWithin(totals, [4], L - UNDER, L + OVER);
    }
  });

  it('a burst on a quiet key is served within a few claim rounds', () => {
    const net = new FakeNetwork({ seed: 9 });
    net.now = 1000 * 60_000 + 5_000;
    const nodes = ['a', 'b', 'c'].map((n) => net.counterNode(n));
    net.pushPull();
    const spec = { key: 'vk:burst:req', limit: 600, duration: { kind: 'fixed' as const, ms: 60_000 } };
    let ok = 0;
    // 150 requests to one node within 300 ms (a tenth of a share per claim round at first).
    net.run(nodes, 400, (t) => {
      if (t % 2 === 0 && t < 300 && nodes[1]!.acquire(spec).ok) ok++;
    });
    expect(ok).toBeGreaterThanOrEqual(140);
  });

  it('a node joining mid-window does not push the cluster over the limit', () => {
    const net = new FakeNetwork({ seed: 11 });
    const W = 60_000;
    net.now = 1000 * W;
    const start = net.now;
    const spec = { key: 'k', limit: L, duration: { kind: 'fixed' as const, ms: W } };
    const nodes = new Map<string, DistributedCounters>();
    const add = (n: string) => {
      nodes.set(n, net.counterNode(n));
      net.pushPull();
    };
    add('a');
    add('b');
    const weights: Record<string, number> = { a: 0.7, b: 0.2, c: 0.1 };
    const admitted: number[] = [0, 0, 0];
    for (let step = 0; net.now < start + 3 * W; step++) {
      if (net.now === start + 90_000) add('c');
      net.deliver();
      const wi = Math.floor((net.now - start) / W);
      for (const [n, c] of nodes) {
        if (net.random() < ((3 * L) / W) * weights[n]! && c.acquire(spec).ok) admitted[wi]!++;
        if ((step + n.charCodeAt(0)) % 50 === 0) c.tick();
      }
      net.now++;
    }
    expectWithin(admitted, [0, 1, 2], L - UNDER, L + OVER);
  });

  it('answers echo requests at once, but a flood of them from one sender at most once per 5 ms', () => {
    const net = new FakeNetwork({ seed: 1 });
    net.now = 10_000_000;
    const b = net.counterNode('b');
    net.add('a');
    const ask = (ver: number) =>
      Buffer.from(
        JSON.stringify({ n: 'a', h: 1, w: [['vk:x:req', 0, 1e15, 1, [['a', 0, 1, ver, 0, 0, 1]]]] }),
      );
    b.receive(ask(1), 'a'); // a new peer: our full state, and the echo
    const first = b.stats_.sent;
    expect(first).toBe(2);
    for (let i = 0; i < 1000; i++) b.receive(ask(2 + i), 'a');
    expect(b.stats_.sent).toBe(first);
    net.now += 5;
    b.receive(ask(2000), 'a');
    expect(b.stats_.sent).toBe(first + 1);
  });

  it("a change carries the sender's own slot only (its size does not grow with the cluster); an echo adds only the claimers' slots", () => {
    const net = new FakeNetwork({ seed: 3 });
    net.now = 1000 * 60_000;
    const sent: {
      at: number;
      from: string;
      to: string;
      msg: { w: [string, number, number, number, unknown[][]][] };
    }[] = [];
    const send = net.send.bind(net);
    net.send = (from, to, ch, payload) => {
      sent.push({ at: net.now, from, to, msg: JSON.parse(payload.toString()) });
      send(from, to, ch, payload);
    };
    const names = ['a', 'b', 'c'];
    const nodes = names.map((n) => net.counterNode(n));
    const spec = { key: 'vk:size:req', limit: 300, duration: { kind: 'fixed' as const, ms: 60_000 } };
    net.run(nodes, 2000, (t) => {
      if (t % 10 === 0) nodes[t % 3]!.acquire(spec);
    });
    // Every node knows every slot by now.
    for (const c of nodes) expect(Object.keys(c.inspect(spec).slots).sort()).toEqual(names);
    const slotsIn = (m: (typeof sent)[number]) =>
      m.msg.w.filter((e) => e[0] === spec.key).flatMap((e) => e[4].map((s) => s[0] as string));
    const asks = (m: (typeof sent)[number]) => m.msg.w.some((e) => e[0] === spec.key && e[3] === 1);
    sent.length = 0;
    net.run(nodes, 500, (t) => {
      if (t % 10 === 0) nodes[t % 3]!.acquire(spec);
    });
    const withSlots = sent.filter((m) => slotsIn(m).length > 0);
    expect(withSlots.length).toBeGreaterThan(0);
    // Changes and claims (asking for an echo or not) name only their sender...
    for (const m of withSlots.filter((x) => slotsIn(x).length === 1)) expect(slotsIn(m)).toEqual([m.from]);
    // ...and whatever carries more is an echo: the sender's slot and those of the peers that asked it
    // (their version is what confirms their claim), never a relay of anyone else's.
    const more = withSlots.filter((m) => slotsIn(m).length > 1);
    expect(more.length).toBeGreaterThan(0);
    for (const m of more) {
      expect(asks(m)).toBe(false);
      const askedBy = new Set(
        sent
          .filter((x) => x.to === m.from && x.at <= m.at && x.at >= m.at - 50 && asks(x))
          .map((x) => x.from),
      );
      for (const node of slotsIn(m)) if (node !== m.from) expect(askedBy.has(node)).toBe(true);
    }
  });

  it("per-tick work follows the keys in use here: a peer's 5,000 keys and ended windows are not walked, and an idle cluster sends nothing", () => {
    const net = new FakeNetwork({ seed: 9 });
    net.now = 1000 * 60_000;
    const [a, b] = [net.counterNode('a'), net.counterNode('b')];
    net.pushPull();
    const spec = (k: string) => ({ key: k, limit: 1000, duration: { kind: 'fixed' as const, ms: 60_000 } });
    const step = (ms: number) => net.run([a, b], ms);
    for (let i = 0; i < 5000; i++) a.acquire(spec(`vk:a${i}`));
    for (let i = 0; i < 10; i++) b.acquire(spec(`vk:b${i}`));
    step(2000);
    expect(b.inspect(spec('vk:a4999')).slots.a?.used).toBe(1); // b knows a's keys...
    expect(b.liveWindows).toBe(10); // ...but walks only its own 10
    expect(a.liveWindows).toBe(5000);
    // Every window ends; a minute later nothing is walked, and nothing is sent while idle.
    net.now = Math.ceil(net.now / 60_000) * 60_000 + 60_000;
    step(1000);
    expect([a.liveWindows, b.liveWindows]).toEqual([0, 0]);
    const sent = a.stats_.sent + b.stats_.sent;
    step(10_000);
    expect(a.stats_.sent + b.stats_.sent).toBe(sent);
  });

  it('members that are not DeepIntShield nodes (a serf agent) take no share', () => {
    const net = new FakeNetwork({ seed: 5 });
    net.now = 1000 * 60_000;
    net.foreignMembers.push({ name: 'a-serf-agent', state: 'alive', tags: { role: 'serf' } });
    const c = net.counterNode('z-node');
    const spec = { key: 'k', limit: 50, duration: { kind: 'fixed' as const, ms: 60_000 } };
    let ok = 0;
    net.run([c], 3000, (t) => {
      if (t % 20 === 0 && c.acquire(spec).ok) ok++;
    });
    expect(ok).toBe(50);
  });

  it('persists and restores usage slots', () => {
    let now = 10 * 3_600_000;
    const spec = { key: 'vk:x:usd', limit: 10, duration: { kind: 'fixed' as const, ms: 3_600_000 } };
    const a = new DistributedCounters({ timers: false, now: () => now, nodeName: 'n1' });
    a.check(spec);
    a.add(spec, 4);
    const rows = a.usageRows(3_600_000);
    expect(rows).toEqual([{ counter: 'vk:x:usd', windowStart: now, node: 'n1', value: 4 }]);
    const b = new DistributedCounters({ timers: false, now: () => now, nodeName: 'n2' });
    b.restoreUsage([...rows, { counter: 'vk:x:usd', windowStart: now, node: 'n2', value: 5 }]);
    expect(b.used(spec)).toBe(9);
    b.add(spec, 1.5);
    expect(b.check(spec).ok).toBe(false);
    now += 3_600_000;
    expect(b.check(spec).ok).toBe(true);
  });
});
