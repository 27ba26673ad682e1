import { describe, expect, it } from 'vitest';
import type { MemberInfo } from '../../../src/cluster/state/gossip.js';
import { PeerTracker } from '../../../src/cluster/state/peers.js';

const O = { unresponsiveMs: 1000, reclaimAfterMs: 500, forgetAfterMs: 120_000 };
const alive = (name: string): MemberInfo => ({ name, state: 'alive', tags: { http: 'x' } });

/** Heard from `reachable` at `at`; the rest silent since 0. */
function tracker(self: string, peers: string[], reachable: string[], at: number): PeerTracker {
  const t = new PeerTracker(O);
  for (const p of peers) t.heard(p, 0);
  for (const p of reachable) t.heard(p, at);
  t.refresh(self, at, peers.map(alive), () => undefined);
  return t;
}

describe('peer tracker', () => {
  it.each([
    // self, peers, reachable at 2 s, majority, required at 2 s (the others silent since 0 → waived after 0.5 s)
    ['b', ['a', 'c'], ['a', 'c'], true, ['a', 'c']],
    ['b', ['a', 'c'], ['a'], true, ['a']],
    ['b', ['a', 'c'], [], false, ['a', 'c']],
    ['a', ['b'], [], true, []], // an exact half wins when it holds the smallest name
    ['b', ['a'], [], false, ['a']],
    ['c', ['a', 'b', 'd'], ['a', 'd'], true, ['a', 'd']],
    ['c', ['a', 'b', 'd'], ['d'], false, ['a', 'b', 'd']], // a half without the smallest name
    ['c', ['a', 'b', 'd'], [], false, ['a', 'b', 'd']],
  ] as const)(
    '%s with %j, reachable %j: majority %s, waits for %j',
    (self, peers, reachable, majority, required) => {
      // Unreachable since 1,001 ms (silent for > 1 s); at 2,000 ms that is ≥ reclaimAfterMs.
      const t = new PeerTracker(O);
      for (const p of peers) t.heard(p, 0);
      t.refresh(self, 1001, peers.map(alive), () => undefined);
      for (const p of reachable) t.heard(p, 2000);
      t.refresh(self, 2000, peers.map(alive), () => undefined);
      expect(t.hasMajority(self)).toBe(majority);
      expect(
        t
          .required(self, 2000)
          .map((p) => p.name)
          .sort(),
      ).toEqual([...required].sort());
    },
  );

  it('forgets a peer that left, one the membership list dropped, and (majority side) one unreachable for forgetAfterMs', () => {
    const forgotten: string[] = [];
    const t = tracker('a', ['b', 'c', 'd', 'e'], ['b', 'c', 'd', 'e'], 10);
    t.refresh('a', 20, [alive('b'), { name: 'c', state: 'left' }, alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c']);
    t.refresh('a', 2000, [alive('b'), alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c', 'd']); // not listed and silent > 1 s
    // b silent from 2 s on, e heard throughout: a and e are a majority of three, so b is forgotten
    // 120 s after it became unreachable; a minority side would keep it.
    t.heard('b', 2000);
    t.heard('e', 3500);
    t.refresh('a', 3500, [alive('b'), alive('e')], (n) => forgotten.push(n));
    t.heard('e', 123_400);
    t.refresh('a', 123_400, [alive('b'), alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c', 'd']);
    t.heard('e', 123_600);
    t.refresh('a', 123_600, [alive('b'), alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c', 'd', 'b']);
  });

  it('a serf agent (no http tag) never takes part; a message brings a dead peer back as alive', () => {
    const t = new PeerTracker(O);
    t.refresh('a', 0, [{ name: 'serf', state: 'alive', tags: { role: 'x' } }], () => undefined);
    expect(t.get('serf')).toBeUndefined();
    t.refresh('a', 0, [alive('b')], () => undefined);
    t.refresh('a', 10, [{ name: 'b', state: 'dead', tags: { http: 'x' } }], () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(10);
    expect(t.heard('b', 20).state).toBe('alive');
    expect(t.get('b')?.unreachableSince).toBe(0);
  });
});
