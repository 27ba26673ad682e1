import { describe, expect, it } from 'vitest';
import type { GossipChannel } from '../../../src/cluster/state/gossip.js';
import { CircuitBreakers } from '../../../src/cluster/traffic/circuits.js';
import { LocalStats } from '../../../src/cluster/traffic/local-stats.js';
import { QuotaPacer, waterFill } from '../../../src/cluster/traffic/pacer.js';
import { AdaptiveKeyRouter } from '../../../src/cluster/traffic/router.js';
import { ClusterTrafficView } from '../../../src/cluster/traffic/view.js';

/** Three breakers joined by a synchronous in-memory broadcast. */
function trio(now: () => number) {
  const handlers: ((b: Buffer) => void)[][] = [[], [], []];
  const names = ['n0', 'n1', 'n2'];
  return names.map((name, i) => {
    const cb = new CircuitBreakers({ nodeName: () => name, liveNodes: () => names, now, probeSlotMs: 3000 });
    const ch: GossipChannel = {
      broadcast: (p) => {
        for (let j = 0; j < 3; j++) if (j !== i) for (const h of handlers[j]!) h(p);
      },
      sendTo: () => {},
      onMessage: (h) => handlers[i]!.push(h),
      setLocalState: () => {},
      onRemoteState: () => {},
    };
    cb.attach(ch);
    return cb;
  });
}

describe('circuit breakers', () => {
  it('open cluster-wide after 3 hard failures on one node; exactly one node probes when half-open; success closes it everywhere', () => {
    let t = 1_000_000;
    const cbs = trio(() => t);
    for (let i = 0; i < 3; i++) cbs[0]!.record('p', 'k', 'm', 'hard');
    for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('open');
    expect(cbs.map((cb) => cb.allow('p', 'k', 'm'))).toEqual([false, false, false]);
    t += 1001;
    for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('half_open');
    const allowed = cbs.map((cb) => cb.allow('p', 'k', 'm'));
    expect(allowed.filter(Boolean)).toHaveLength(1);
    // The owner's second request waits for its probe's outcome.
    const owner = allowed.indexOf(true);
    expect(cbs[owner]!.allow('p', 'k', 'm')).toBe(false);
    cbs[owner]!.record('p', 'k', 'm', 'ok');
    for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('closed');
  });

  it('a failed probe reopens for twice as long; neutral outcomes (429, client errors) never trip', () => {
    let t = 1_000_000;
    const cbs = trio(() => t);
    for (let i = 0; i < 10; i++) cbs[1]!.record('p', 'k', 'm', 'neutral');
    expect(cbs[1]!.state('p', 'k', 'm')).toBe('closed');
    for (let i = 0; i < 3; i++) cbs[1]!.record('p', 'k', 'm', 'hard');
    t += 1001;
    const owner = cbs.findIndex((cb) => cb.allow('p', 'k', 'm'));
    cbs[owner]!.record('p', 'k', 'm', 'hard');
    t += 1500;
    for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('open');
    t += 600;
    for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('half_open');
  });

  it('one probe cluster-wide while it is in flight (half-open in metrics), also when the owner role moves to the next slot; a silent prober gives way after its slot', () => {
    let t = 1_000_000;
    const cbs = trio(() => t);
    for (let i = 0; i < 3; i++) cbs[0]!.record('p', 'k', 'm', 'hard');
    t += 1001;
    // Half-open just before a slot ends: the probe outlives the slot (a hanging upstream).
    t += 3000 - (t % 3000) - 10;
    const first = cbs.findIndex((cb) => cb.allow('p', 'k', 'm'));
    expect(first).toBeGreaterThanOrEqual(0);
    for (let step = 0; step < 29; step++) {
      t += 100; // the next slots: whoever owns them sees the probe's lease and waits
      expect(cbs.filter((cb) => cb.allow('p', 'k', 'm'))).toHaveLength(0);
      for (const cb of cbs) expect(cb.state('p', 'k', 'm')).toBe('open');
      // For people (the metrics gauge, status) the circuit is half-open: a probe is in flight.
      for (const cb of cbs) expect(new Set(cb.all().map((c) => c.effective))).toEqual(new Set(['half_open']));
      for (const cb of cbs) expect(cb.shownState('p', 'k', 'm')).toBe('half_open');
    }
    // The prober never reported: once its lease is over, one node probes again.
    t += 100;
    expect(cbs.filter((cb) => cb.allow('p', 'k', 'm'))).toHaveLength(1);
  });

  it('ignores malformed gossip', () => {
    const cbs = trio(() => 0);
    const ch = { handlers: [] as ((b: Buffer) => void)[] };
    const cb = new CircuitBreakers({ nodeName: () => 'x', liveNodes: () => ['x'] });
    cb.attach({
      broadcast: () => {},
      sendTo: () => {},
      onMessage: (h) => ch.handlers.push(h),
      setLocalState: () => {},
      onRemoteState: () => {},
    });
    for (const junk of ['', 'null', '[[1,2,3]]', '[["p","k","m","open",-1,0,0,"x",""]]', '{"a":1}'])
      for (const h of ch.handlers) h(Buffer.from(junk));
    expect(cb.all()).toHaveLength(0);
    expect(cbs[0]!.all()).toHaveLength(0);
  });
});

describe('router and pacer', () => {
  const setup = (mode: 'weighted' | 'adaptive', liveNodes = ['n0']) => {
    let t = 1_000_000;
    const now = () => t;
    const stats = new LocalStats(now);
    const view = new ClusterTrafficView(
      {
        name: 'n0',
        stats: () => stats.snapshot(),
        health: () => ({ cpu: 0, rssMb: 0, loopLagMs: 0, inFlight: 0, rps: 0 }),
      },
      now,
      0,
    );
    const circuits = new CircuitBreakers({ nodeName: () => 'n0', liveNodes: () => liveNodes, now });
    const pacer = new QuotaPacer(view, { now });
    let r = 0;
    const router = new AdaptiveKeyRouter({
      mode,
      stats,
      view,
      circuits,
      pacer,
      now,
      random: () => (r = (r + 0.37) % 1),
    });
    return { router, advance: (ms: number) => (t += ms), circuits };
  };
  const KEYS = [
    { name: 'a', weight: 1 },
    { name: 'b', weight: 1 },
  ];

  it('never picks an avoided key or one with an open circuit while a closed one exists; -1 when none is left; targetOpen and panic mode when all are open', () => {
    const { router } = setup('adaptive');
    expect(router.choose('p', 'm', KEYS, new Set(['a']))).toBe(1);
    for (let i = 0; i < 3; i++)
      router.record({ provider: 'p', keyName: 'b', model: 'm', status: 503, latencyMs: 5 });
    for (let i = 0; i < 20; i++) expect(router.choose('p', 'm', KEYS, undefined)).toBe(0);
    expect(router.choose('p', 'm', KEYS, new Set(['a']))).toBe(-1);
    expect(router.targetOpen('p', 'm')).toBe(false);
    for (let i = 0; i < 3; i++)
      router.record({ provider: 'p', keyName: 'a', model: 'm', status: 0, failure: 'timeout', latencyMs: 5 });
    expect(router.targetOpen('p', 'm')).toBe(true);
    // Panic mode: with every circuit open, keys are still chosen (by weight) rather than none.
    const picks = new Set(Array.from({ length: 40 }, () => router.choose('p', 'm', KEYS, undefined)));
    expect(picks).toEqual(new Set([0, 1]));
    expect(router.choose('p', 'm', KEYS, new Set(['a', 'b']))).toBe(-1);
  });

  it('the probe owner sends its next request to a half-open key whatever its health factor; one probe at a time; its success closes the circuit', () => {
    const { router, advance, circuits } = setup('adaptive');
    for (let i = 0; i < 20; i++)
      router.record({ provider: 'p', keyName: 'a', model: 'm', status: 200, latencyMs: 5 });
    for (let i = 0; i < 3; i++)
      router.record({
        provider: 'p',
        keyName: 'b',
        model: 'm',
        status: 0,
        failure: 'timeout',
        latencyMs: 1000,
      });
    expect(circuits.state('p', 'b', 'm')).toBe('open');
    advance(1500);
    expect(circuits.state('p', 'b', 'm')).toBe('half_open');
    // b's error rate floors its weight at 1%: before, ~100 requests went by before its one probe.
    expect(router.choose('p', 'm', KEYS, undefined)).toBe(1);
    for (let i = 0; i < 20; i++) expect(router.choose('p', 'm', KEYS, undefined)).toBe(0);
    router.record({ provider: 'p', keyName: 'b', model: 'm', status: 200, latencyMs: 5 });
    expect(circuits.state('p', 'b', 'm')).toBe('closed');
  });

  it('a half-open key whose probe another node owns is asked once per choice and never drawn', () => {
    // The only live node is 'n9': it owns every probe slot, so n0 is refused each half-open probe.
    const { router, advance, circuits } = setup('weighted', ['n9']);
    for (let i = 0; i < 3; i++)
      router.record({ provider: 'p', keyName: 'b', model: 'm', status: 503, latencyMs: 5 });
    advance(1500);
    expect(circuits.state('p', 'b', 'm')).toBe('half_open');
    const allow = circuits.allow.bind(circuits);
    let asked = 0;
    circuits.allow = (provider, key, model) => {
      if (key === 'b') asked++;
      return allow(provider, key, model);
    };
    for (let i = 0; i < 20; i++) expect(router.choose('p', 'm', KEYS, undefined)).toBe(0);
    expect(asked).toBe(20);
  });

  it('a 429 with retry-after cools the key down until then', () => {
    const { router, advance } = setup('weighted');
    router.record({
      provider: 'p',
      keyName: 'a',
      model: 'm',
      status: 429,
      latencyMs: 5,
      quotaHeaders: { 'retry-after': '2' },
    });
    for (let i = 0; i < 10; i++) expect(router.choose('p', 'm', KEYS, undefined)).toBe(1);
    advance(2001);
    const picks = new Set(Array.from({ length: 10 }, () => router.choose('p', 'm', KEYS, undefined)));
    expect(picks).toEqual(new Set([0, 1]));
  });

  it('water-filling shares demand by weight within each key’s available rate', () => {
    expect(waterFill([9, 1], [9.5, 9.5], 15)).toEqual([9.5, 5.5]);
    expect(waterFill([1, 1], [undefined, undefined], 10)).toEqual([5, 5]);
    expect(waterFill([1, 1], [1, 1], 10)).toEqual([1, 1]);
    const w = waterFill([3, 1], [undefined, 0.5], 8);
    expect(w[1]).toBe(0.5);
    expect(w[0]).toBeCloseTo(7.5);
  });
});
