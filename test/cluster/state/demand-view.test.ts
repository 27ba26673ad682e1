import { describe, expect, it } from 'vitest';
import { DemandView } from '../../../src/cluster/state/demand-view.js';

function view() {
  let t = 1_000_000;
  const v = new DemandView(() => t, 0.25);
  return { v, advance: (ms: number) => (t += ms), now: () => t };
}

describe('DemandView', () => {
  it('with no demand anywhere, every node has an equal share', () => {
    const { v } = view();
    const peers = ['b', 'c', 'd'];
    for (const n of ['a', ...peers]) expect(v.share('k', n, 'a', peers)).toBeCloseTo(0.25, 9);
  });

  it('shares follow published demand, and an idle node keeps a small one', () => {
    const { v } = view();
    v.notePeer('k', 'b', 70);
    v.notePeer('k', 'c', 30);
    const peers = ['b', 'c'];
    const shares = ['a', 'b', 'c'].map((n) => v.share('k', n, 'a', peers));
    expect(shares.reduce((x, y) => x + y)).toBeCloseTo(1, 9);
    expect(shares[1]! / shares[2]!).toBeGreaterThan(2);
    expect(shares[0]).toBeGreaterThan(0);
    expect(shares[0]).toBeLessThan(0.05);
  });

  it('rolls at most every 0.5 s and reports the keys whose published demand moved', () => {
    const { v, advance } = view();
    for (let i = 0; i < 50; i++) v.noteAttempt('k');
    advance(100);
    expect(v.rollIfDue(1_000_100)).toBeUndefined();
    advance(400);
    expect(v.rollIfDue(1_000_500)).toEqual(new Set(['k']));
    expect(v.published('k')).toBeCloseTo(100, 6);
    // The claim bound covers about 0.5 s of that demand, at least 10% of the limit.
    expect(v.nextBound('k', 10)).toBeCloseTo(50, 6);
    expect(v.nextBound('k', 10_000)).toBe(1000);
  });

  it("forgets a peer's demand it has not heard of for 5 minutes", () => {
    const { v, advance, now } = view();
    v.notePeer('k', 'b', 10);
    advance(4 * 60_000);
    v.rollIfDue(now());
    expect(v.peer('k', 'b')).toBe(10);
    advance(2 * 60_000);
    v.rollIfDue(now());
    expect(v.peer('k', 'b')).toBe(0);
  });
});
