import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion, claimAmount } from '../../../src/cluster/state/limiter.js';
import { type Arrival, runSchedule } from './schedule.js';

const MINUTE = { kind: 'fixed' as const, ms: 60_000 };

describe('apportion', () => {
  it('whole units: sums to the total, each within one unit of its exact share, same split for the same weights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (total, ws) => {
          const weights = ws.map((w, i) => ({ name: `n${i}`, w }));
          const out = apportion(total, weights, true);
          const sum = [...out.values()].reduce((a, b) => a + b, 0);
          expect(sum).toBe(total);
          const wsum = ws.reduce((a, b) => a + b, 0);
          for (const [i, w] of ws.entries()) {
            const exact = wsum > 0 ? (total * w) / wsum : total / ws.length;
            expect(Math.abs(out.get(`n${i}`)! - exact)).toBeLessThan(1 + 1e-6);
            expect(Number.isInteger(out.get(`n${i}`))).toBe(true);
          }
          expect([...apportion(total, [...weights].reverse(), true)].sort()).toEqual([...out].sort());
        },
      ),
    );
  });
});

describe('claimAmount (the claim rule)', () => {
  it('never claims more than the pool, never negative, whole units for requests', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(
          fc.record({
            used: fc.integer({ min: 0, max: 500 }),
            extra: fc.integer({ min: 0, max: 100 }),
            asked: fc.integer({ min: 0, max: 2000 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        (limit, slots, elapsed, want) => {
          const nodes = slots.map((s, i) => ({
            name: `n${i}`,
            used: s.used,
            cap: s.used + s.extra,
            asked: s.asked,
          }));
          const taken = nodes.reduce((a, n) => a + Math.max(n.cap, n.used), 0);
          const pool = limit - taken;
          const { amount: a } = claimAmount({
            self: 'n0',
            limit,
            nodes,
            pool,
            want,
            bound: limit,
            elapsed,
            integer: true,
          });
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThanOrEqual(Math.max(0, pool));
          expect(Number.isInteger(a)).toBe(true);
        },
      ),
    );
  });

  it('a claim within our entitlement is usable at once only where no peer can have borrowed from it', () => {
    // Entitlements 4/4/4; b holds 7 (3 beyond its own): those 3 may be units of ours that our pool,
    // stale by a claim we have not seen yet, still counts as free. Of a 4-unit claim only 1 is disjoint.
    const nodes = [
      { name: 'a', used: 0, cap: 0, asked: 1 },
      { name: 'b', used: 7, cap: 7, asked: 50 },
      { name: 'c', used: 0, cap: 0, asked: 0, expect: 4 },
    ];
    const x = { self: 'a', limit: 12, nodes, pool: 5, want: 4, bound: 12, elapsed: 0.5, integer: true };
    expect(claimAmount(x)).toEqual({ amount: 4, borrowed: 3 });
    // Nobody beyond its entitlement: the whole claim is ours at once.
    const even = nodes.map((n) => ({ ...n, used: Math.min(n.used, 4), cap: Math.min(n.cap, 4) }));
    expect(claimAmount({ ...x, nodes: even, pool: 8 })).toEqual({ amount: 4, borrowed: 0 });
  });
});

describe('limits exact for every traffic shape (real counters, in-memory gossip, virtual time)', () => {
  it('6/min, 9 requests round-robin over 3 nodes 0.5 s apart: 6 admitted; 429s report 0 remaining', () => {
    const arrivals: Arrival[] = Array.from({ length: 9 }, (_, i) => ({ at: 100 + i * 500, node: i % 3 }));
    const r = runSchedule({
      nodes: 3,
      spec: { key: 'vk:rr:req', limit: 6, duration: MINUTE, integer: true },
      arrivals,
    });
    expect(r.admitted[0]).toBe(6);
    expect(r.refusals).toHaveLength(3);
    for (const x of r.refusals) expect(x.remaining).toBe(0);
  });

  it('heavy even load, a request at every node every millisecond (3x the limit), 3 windows: within 1% over, 3% under', () => {
    const arrivals = Array.from({ length: 45_000 }, (_, i) => ({ at: Math.floor(i / 3), node: i % 3 }));
    const r = runSchedule({
      nodes: 3,
      spec: { key: 'vk:heavy:req', limit: 500, duration: { kind: 'fixed', ms: 5000 }, integer: true },
      arrivals,
    });
    for (const a of r.admitted) {
      expect(a).toBeLessThanOrEqual(505);
      expect(a).toBeGreaterThanOrEqual(485);
    }
  });

  it('skewed load with a light tail, 15 nodes (70% to one, 20% to one, 10% over 13), limit 200, 1.5x offered: within 3% under in every window, the first included', () => {
    // Each of the 13 light nodes is asked ~2 times a window. Holding a few spare units each to the end of
    // the window (what one second of demand rounds up to) cost the busy nodes 11% of the limit.
    for (const seed of [1, 2]) {
      const n = 15;
      const pick = (i: number) => {
        const r = (i * 0.6180339887) % 1;
        return r < 0.7 ? 0 : r < 0.9 ? 1 : 2 + (i % (n - 2));
      };
      const arrivals = Array.from({ length: 900 }, (_, i) => ({
        at: Math.floor((i * 15_000) / 900),
        node: pick(i),
      }));
      const r = runSchedule({
        nodes: n,
        seed,
        lossRate: 0.01,
        spec: { key: 'vk:tail:req', limit: 200, duration: { kind: 'fixed', ms: 5000 }, integer: true },
        arrivals,
      });
      expect(r.admitted).toHaveLength(3);
      for (const a of r.admitted) {
        expect(a).toBeLessThanOrEqual(200);
        expect(a).toBeGreaterThanOrEqual(194);
      }
    }
  });
  it('light load, round-robin or all to one node (≥ 250 ms apart): admitted = min(limit, offered), exactly (all to one: from the second window of a key; its first keeps one unit per idle node)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 250, max: 1500 }), { minLength: 1, maxLength: 45 }),
        fc.boolean(),
        fc.integer(),
        (n, limit, gaps, oneNode, seed) => {
          let t = 100;
          const first = gaps.map((gap, i) => {
            t += gap;
            return { at: t, node: oneNode ? 0 : i % n };
          });
          if (t > 59_000 || (!oneNode && limit < n)) return;
          const arrivals = [...first, ...first.map((a) => ({ ...a, at: a.at + 60_000 }))];
          const r = runSchedule({
            nodes: n,
            seed,
            spec: { key: 'vk:light:req', limit, duration: MINUTE, integer: true },
            arrivals,
          });
          const want = Math.min(limit, first.length);
          expect(r.admitted[1] ?? 0).toBe(want);
          if (oneNode) expect(r.admitted[0] ?? 0).toBeGreaterThanOrEqual(want - (n - 1));
          else expect(r.admitted[0] ?? 0).toBe(want);
          for (const x of r.refusals) expect(x.remaining).toBe(0);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30) },
    );
  });

  it('light load, random spread: never over; under by at most one share or one unit per idle node (a node asked once keeps its share: it cannot know it will not be asked again)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.integer({ min: 250, max: 1500 }), fc.nat()), { minLength: 1, maxLength: 45 }),
        fc.integer(),
        (n, limit, gaps, seed) => {
          let t = 100;
          const arrivals = gaps.map(([gap, node]) => {
            t += gap;
            return { at: t, node: node % n };
          });
          if (t > 59_000) return;
          const r = runSchedule({
            nodes: n,
            seed,
            spec: { key: 'vk:spread:req', limit, duration: MINUTE, integer: true },
            arrivals,
          });
          const admitted = r.admitted[0] ?? 0;
          expect(admitted).toBeLessThanOrEqual(limit);
          // Every node asked but one may keep its share (what it used of it excepted).
          const asked = new Set(arrivals.map((a) => a.node)).size;
          const kept = Math.max(1, asked - 1) * (Math.ceil(limit / n) - 1) + 1;
          expect(admitted).toBeGreaterThanOrEqual(Math.min(limit, arrivals.length) - Math.max(kept, n - 1));
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30) },
    );
  });

  it("light load: two nodes asked once each keep their share in a key's first window (fast-check seed 922366950)", () => {
    // 3 nodes, limit 11 (shares of 4), 11 requests 250 ms apart: n001 first, n002 once, n000 the other 9.
    // n001 and n002 each keep what is left of their share (they cannot know they will not be asked
    // again), so n000 gets 6 in all: within the rule, under one share per such node.
    const nodes = [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0];
    const r = runSchedule({
      nodes: 3,
      seed: 0,
      spec: { key: 'vk:spread:req', limit: 11, duration: MINUTE, integer: true },
      arrivals: nodes.map((node, i) => ({ at: 350 + i * 250, node })),
    });
    expect(r.admitted[0]).toBeGreaterThanOrEqual(11 - 2 * 3);
    expect(r.admitted[0]).toBeLessThanOrEqual(11);
  });

  it('the counterexample fast-check found against the bounded-fanout protocol: 4 requests, limit 3, never 4', () => {
    const r = runSchedule({
      nodes: 3,
      seed: 0,
      lossRate: 0.01,
      spec: { key: 'vk:any:req', limit: 3, duration: { kind: 'fixed', ms: 5_000 }, integer: true },
      arrivals: [
        { at: 10, node: 0 },
        { at: 20, node: 1 },
        { at: 67, node: 2 },
        { at: 77, node: 0 },
      ],
    });
    expect(r.admitted[0]).toBe(3);
  });

  it('what CI found against announcing only claims beyond a share at once: a claim within a share was unseen for a flush interval, and the peer took the same unit as idle', () => {
    // fast-check seed 457129898: n000 claimed its own unit at 20 ms and told nobody until its flush at
    // 50 ms; n001, asked again at 30 ms, saw n000 idle and took that unit too (2 admitted, limit 1).
    const r = runSchedule({
      nodes: 2,
      seed: 0,
      lossRate: 0.01,
      spec: { key: 'vk:any:req', limit: 1, duration: { kind: 'fixed', ms: 5_000 }, integer: true },
      arrivals: [
        { at: 10, node: 1 },
        { at: 20, node: 0 },
        { at: 30, node: 1 },
      ],
    });
    expect(r.admitted[0]).toBe(1);
  });

  it('a lost claim announcement: the peer that borrows the same units sees the claim in the echo it waits for, and gives them back', () => {
    // Found by a 30,000-run search once every claim was sent at once (seed -16, 1% loss): n001's claim
    // at 242 ms was lost; n000 took n001's share as idle at 267 ms and both admitted (9 under a limit
    // of 7), before a borrow waited for the owner's echo. The loss is chosen here, not drawn.
    const at = [53, 105, 184, 232, 242, 267, 301, 320, 405, 488, 520, 560];
    const node = [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1];
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = runSchedule({
        nodes: 2,
        seed,
        spec: { key: 'vk:any:req', limit: 7, duration: { kind: 'fixed', ms: 5_000 }, integer: true },
        arrivals: at.map((t, i) => ({ at: t, node: node[i]! })),
        drop: (from, _to, t) => from === 'n001' && t === 242,
      });
      expect(r.admitted[0], `seed ${seed}`).toBe(7);
    }
  });

  it('any load with requests ≥ 10 ms apart (beyond the network latency), 1% loss: Σ admitted ≤ limit per window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.tuple(fc.integer({ min: 10, max: 120 }), fc.nat(), fc.nat({ max: 3 })), {
          minLength: 1,
          maxLength: 150,
        }),
        fc.integer(),
        (n, limit, gaps, seed) => {
          let t = 0;
          const arrivals = gaps.map(([gap, node, skew]) => {
            t += gap;
            // skew: a quarter of the picks go to node 0
            return { at: t, node: skew === 0 ? 0 : node % n };
          });
          const r = runSchedule({
            nodes: n,
            seed,
            lossRate: 0.01,
            spec: { key: 'vk:any:req', limit, duration: { kind: 'fixed', ms: 5_000 }, integer: true },
            arrivals,
          });
          for (const a of r.admitted) expect(a ?? 0).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30) },
    );
  });

  it('any load (simultaneous bursts, skew, 1% loss): over by at most one unit per other node (an idle node asked within the latency of a claim on its share)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.nat(), fc.nat({ max: 3 })), {
          minLength: 1,
          maxLength: 150,
        }),
        fc.integer(),
        (n, limit, gaps, seed) => {
          let t = 0;
          const arrivals = gaps.map(([gap, node, skew]) => {
            t += gap;
            // skew: a quarter of the picks go to node 0
            return { at: t, node: skew === 0 ? 0 : node % n };
          });
          const r = runSchedule({
            nodes: n,
            seed,
            lossRate: 0.01,
            spec: { key: 'vk:any:req', limit, duration: { kind: 'fixed', ms: 5_000 }, integer: true },
            arrivals,
          });
          for (const a of r.admitted) expect(a ?? 0).toBeLessThanOrEqual(limit + n - 1);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30) },
    );
  });

  it('token reservations: concurrent requests never overshoot the token limit by more than the estimate error', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.nat(), fc.integer({ min: 10, max: 400 })), {
          minLength: 5,
          maxLength: 120,
        }),
        fc.integer(),
        (n, reqs, seed) => {
          const limit = 5000;
          let t = 0;
          const arrivals: Arrival[] = reqs.map(([gap, node, ask]) => {
            t += gap;
            // the estimate bounds the real use (max_tokens): use ≤ ask
            return { at: t, node: node % n, ask, use: Math.ceil(ask * 0.8), holdMs: 300 };
          });
          const r = runSchedule({
            nodes: n,
            seed,
            tokens: true,
            spec: { key: 'vk:tok', limit, duration: MINUTE },
            arrivals,
          });
          expect(r.charged[0] ?? 0).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 25) },
    );
  });
});
