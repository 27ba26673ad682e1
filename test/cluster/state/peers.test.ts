import fc from 'fast-check';
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

type Down = 'suspect' | 'dead' | 'unanswered';
const ROWS = [
  // self, peers, reachable at 2 s, majority, required at 2 s (the others unreachable since 1,001 ms → waived after 0.5 s)
  ['b', ['a', 'c'], ['a', 'c'], true, ['a', 'c']],
  ['b', ['a', 'c'], ['a'], true, ['a']],
  ['b', ['a', 'c'], [], false, ['a', 'c']],
  ['a', ['b'], [], true, []], // an exact half wins when it holds the smallest name
  ['b', ['a'], [], false, ['a']],
  ['c', ['a', 'b', 'd'], ['a', 'd'], true, ['a', 'd']],
  ['c', ['a', 'b', 'd'], ['d'], false, ['a', 'b', 'd']], // a half without the smallest name
  ['c', ['a', 'b', 'd'], [], false, ['a', 'b', 'd']],
] as const;

describe('peer tracker', () => {
  it.each(
    (['suspect', 'dead', 'unanswered'] as Down[]).flatMap((down) => ROWS.map((r) => [down, ...r] as const)),
  )(
    'unreachable by %s: %s with %j, reachable %j: majority %s, waits for %j',
    (down, self, peers, reachable, majority, required) => {
      const t = new PeerTracker(O);
      const listed = (at: number) =>
        peers.map((p) =>
          down !== 'unanswered' && !reachable.includes(p as never) && at > 1000
            ? { ...alive(p), state: down }
            : alive(p),
        );
      t.refresh(self, 0, listed(0), () => undefined);
      // An echo asked of every peer at 0: the reachable ones answer, the others (when that is how
      // they are down) leave it unanswered for more than unresponsiveMs.
      for (const p of peers) t.asked(t.get(p)!, 0);
      for (const p of reachable) t.heard(p, 500);
      if (down !== 'unanswered') for (const p of peers) t.heard(p, 500);
      t.refresh(self, 1001, listed(1001), () => undefined);
      for (const p of reachable) t.heard(p, 2000);
      t.refresh(self, 2000, listed(2000), () => undefined);
      expect(t.hasMajority(self)).toBe(majority);
      expect(
        t
          .required(self, 2000)
          .map((p) => p.name)
          .sort(),
      ).toEqual([...required].sort());
    },
  );

  it('an idle peer that was never asked stays reachable however long it is silent (there is no heartbeat)', () => {
    const t = new PeerTracker(O);
    t.refresh('a', 0, [alive('b')], () => undefined);
    t.refresh('a', 60_000, [alive('b')], () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(0);
    t.asked(t.get('b')!, 60_000);
    t.refresh('a', 61_000, [alive('b')], () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(0); // exactly unresponsiveMs: not yet
    t.refresh('a', 61_001, [alive('b')], () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(61_001);
    t.heard('b', 61_100);
    t.refresh('a', 61_200, [alive('b')], () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(0);
  });

  it("hearing from a suspect peer makes it reachable until membership's view of it changes again", () => {
    const t = new PeerTracker(O);
    const b = (state: 'alive' | 'suspect' | 'dead') => [{ ...alive('b'), state }];
    t.refresh('a', 10, b('suspect'), () => undefined);
    expect(t.get('b')?.unreachableSince).toBe(10);
    t.heard('b', 20);
    t.refresh('a', 30, b('suspect'), () => undefined); // the same suspicion: what we heard wins
    expect(t.get('b')?.unreachableSince).toBe(0);
    t.refresh('a', 40, b('dead'), () => undefined); // a new verdict after it
    expect(t.get('b')?.unreachableSince).toBe(40);
  });

  it('asks a peer that has not sent its full state for it at a backoff, and stops once it has', () => {
    const t = new PeerTracker(O);
    t.refresh('a', 0, [alive('b')], () => undefined);
    const greeted: number[] = [];
    for (let now = 0; now <= 20_000; now += 50) if (t.toGreet(now).length > 0) greeted.push(now);
    expect(greeted.slice(0, 6)).toEqual([0, 250, 750, 1750, 3750, 7750]);
    expect(greeted.at(-1)).toBe(17_750); // 5 s apart from then on
    t.get('b')!.synced = true;
    expect(t.toGreet(100_000)).toEqual([]);
  });

  it('forgets a peer that left, one the membership list dropped, and (majority side) one unreachable for forgetAfterMs', () => {
    const forgotten: string[] = [];
    const t = tracker('a', ['b', 'c', 'd', 'e'], ['b', 'c', 'd', 'e'], 10);
    t.refresh('a', 20, [alive('b'), { name: 'c', state: 'left' }, alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c']);
    t.refresh('a', 2000, [alive('b'), alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c', 'd']); // not listed and silent > 1 s
    // b suspected from 3.5 s on, e heard throughout: a and e are a majority of three, so b is forgotten
    // 120 s after it became unreachable; a minority side would keep it.
    const suspectB = { ...alive('b'), state: 'suspect' as const };
    t.heard('e', 3500);
    t.refresh('a', 3500, [suspectB, alive('e')], (n) => forgotten.push(n));
    t.heard('e', 123_400);
    t.refresh('a', 123_400, [suspectB, alive('e')], (n) => forgotten.push(n));
    expect(forgotten).toEqual(['c', 'd']);
    t.heard('e', 123_600);
    t.refresh('a', 123_600, [suspectB, alive('e')], (n) => forgotten.push(n));
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

  it('while the generation stands, the peers a claim waits for only shrink (the re-ask skips its walk on that)', () => {
    const names = ['b', 'c', 'd', 'e'];
    const state = fc.constantFrom('alive', 'suspect', 'dead', 'left') as fc.Arbitrary<MemberInfo['state']>;
    const op = fc.oneof(
      fc.record({ k: fc.constant('heard' as const), p: fc.constantFrom(...names) }),
      fc.record({ k: fc.constant('asked' as const), p: fc.constantFrom(...names) }),
      fc.record({
        k: fc.constant('refresh' as const),
        members: fc.option(
          fc.uniqueArray(fc.record({ name: fc.constantFrom(...names), state }), {
            selector: (m) => m.name,
          }),
        ),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 700 }), op }), { maxLength: 40 }),
        (steps) => {
          const t = new PeerTracker(O);
          let now = 0;
          let gen = t.generation;
          let required = new Set(t.required('a', now).map((p) => p.name));
          for (const { dt, op } of steps) {
            now += dt;
            if (op.k === 'heard') t.heard(op.p, now);
            else if (op.k === 'asked') {
              const p = t.get(op.p);
              if (p) t.asked(p, now);
            } else
              t.refresh(
                'a',
                now,
                op.members?.map((m) => ({ ...alive(m.name), state: m.state })),
                () => undefined,
              );
            const next = new Set(t.required('a', now).map((p) => p.name));
            if (t.generation === gen) for (const n of next) expect(required.has(n)).toBe(true);
            gen = t.generation;
            required = next;
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });
});
