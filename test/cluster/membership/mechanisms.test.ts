import { describe, expect, it } from 'vitest';
import { Awareness } from '../../../src/cluster/membership/awareness.js';
import { BroadcastQueue } from '../../../src/cluster/membership/broadcast.js';
import { MinHeap } from '../../../src/cluster/membership/heap.js';
import { Suspicion } from '../../../src/cluster/membership/suspicion.js';
import {
  PROFILES,
  pushPullScale,
  resolveTimings,
  retransmitLimit,
  suspicionTimeout,
} from '../../../src/cluster/membership/timings.js';
import { gossipTimingsSchema } from '../../../src/config/schema.js';
import { waitFor } from '../../support/wait.js';

describe('timing formulas', () => {
  it('suspicion timeout, retransmit limit, push/pull scale match memberlist', () => {
    expect(suspicionTimeout(4, 3, 1000)).toBe(4000); // n < 10 → log10 clamps to 1
    expect(suspicionTimeout(4, 100, 1000)).toBe(8000);
    expect(suspicionTimeout(4, 1000, 1000)).toBe(12000);
    expect(retransmitLimit(4, 3)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(pushPullScale(30_000, 32)).toBe(30_000);
    expect(pushPullScale(30_000, 64)).toBe(60_000);
    expect(pushPullScale(30_000, 1000)).toBe(30_000 * 6);
  });

  it('remaining suspicion time shrinks with confirmations: max − ln(c+1)/ln(k+1)·(max − min)', () => {
    const min = 4000;
    const max = 24000;
    expect(Suspicion.remaining(0, 2, 0, min, max)).toBe(max);
    expect(Suspicion.remaining(1, 2, 0, min, max)).toBe(
      Math.floor(max - (Math.log(2) / Math.log(3)) * (max - min)),
    );
    expect(Suspicion.remaining(2, 2, 0, min, max)).toBe(min);
    expect(Suspicion.remaining(2, 2, 1000, min, max)).toBe(min - 1000);
  });

  it('a suspicion fires after min once k independent nodes confirmed; repeats do not count', async () => {
    let fired = -1;
    const s = new Suspicion('a', 2, 100, 10_000, (c) => {
      fired = c;
    });
    expect(s.confirm('a')).toBe(false); // the accuser itself
    expect(s.confirm('b')).toBe(true);
    expect(s.confirm('b')).toBe(false);
    expect(s.confirm('c')).toBe(true);
    expect(s.confirm('d')).toBe(false); // k reached
    await waitFor(() => fired === 2, { what: 'suspicion timeout', timeoutMs: 5000, intervalMs: 20 });
  });

  it('profiles and overrides resolve from the config schema', () => {
    expect(resolveTimings(gossipTimingsSchema.parse({}))).toEqual(PROFILES.lan);
    const t = resolveTimings(
      gossipTimingsSchema.parse({ profile: 'wan', probe_interval: '2s', indirect_checks: 5 }),
    );
    expect(t).toMatchObject({ probeInterval: 2000, probeTimeout: 3000, indirectChecks: 5, suspicionMult: 6 });
    expect(resolveTimings(gossipTimingsSchema.parse({ profile: 'local' })).probeTimeout).toBe(200);
  });
});

describe('awareness', () => {
  it('stays within [0, max-1] and scales the probe interval', () => {
    const a = new Awareness(8);
    a.applyDelta(-1);
    expect(a.healthScore).toBe(0);
    a.applyDelta(20);
    expect(a.healthScore).toBe(7);
    expect(a.scale(1000)).toBe(8000);
  });
});

describe('broadcast queue', () => {
  it('retransmits up to the limit, newest first, fits the byte budget, invalidates by key, is bounded', () => {
    let n = 3;
    const dropped: number[] = [];
    const q = new BroadcastQueue(
      () => 2,
      () => n,
      3,
      (c) => dropped.push(c),
    );
    q.queue(Buffer.alloc(10, 1), 'node:a');
    q.queue(Buffer.alloc(10, 2), 'node:b');
    q.queue(Buffer.alloc(10, 3), 'node:a'); // replaces the first
    expect(q.length).toBe(2);
    const first = q.getBroadcasts(2, 100);
    expect(first.map((b) => b[0])).toEqual([3, 2]);
    expect(q.getBroadcasts(2, 12)).toHaveLength(1); // budget for one
    q.getBroadcasts(2, 100);
    expect(q.length).toBe(0); // limit 2 × ceil(log10(4)) = 2 transmissions each
    n = 100;
    for (let i = 0; i < 5; i++) q.queue(Buffer.alloc(5, i));
    expect(q.length).toBe(3);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(2);
    let done = false;
    q.queue(Buffer.alloc(5), 'k', () => {
      done = true;
    });
    q.queue(Buffer.alloc(5), 'k');
    expect(done).toBe(true); // invalidated counts as finished
    q.queue(Buffer.alloc(5, 9), undefined, undefined, true);
    expect(q.getBroadcasts(0, 1000, false).some((b) => b[0] === 9)).toBe(false);
  });
});

describe('min-heap', () => {
  it('pops in order, and re-heapifies replaced contents', () => {
    const h = new MinHeap<number>((a, b) => a < b);
    for (const x of [5, 1, 4, 1, 9, 2, 6]) h.push(x);
    const out: number[] = [];
    while (h.size > 0) out.push(h.pop()!);
    expect(out).toEqual([1, 1, 2, 4, 5, 6, 9]);
    h.reset([7, 3, 8]);
    expect(h.peek()).toBe(3);
  });
});
