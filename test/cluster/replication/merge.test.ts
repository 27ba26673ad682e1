import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type EntityVersion,
  entityKey,
  mergeReplicas,
  newer,
} from '../../../src/cluster/replication/entity.js';
import { compareHlc, decodeHlc, encodeHlc, HybridClock } from '../../../src/cluster/replication/hlc.js';

const node = fc.constantFrom('a', 'b', 'c', 'node-10', 'node-9');
const hlc = fc
  .record({ wall: fc.integer({ min: 0, max: 50 }), counter: fc.integer({ min: 0, max: 3 }), node })
  .map(encodeHlc);
const version: fc.Arbitrary<EntityVersion> = fc
  .record({
    kind: fc.constantFrom('virtual_key', 'provider'),
    id: fc.constantFrom('x', 'y', 'z'),
    hlc,
    deleted: fc.boolean(),
    v: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ kind, id, hlc, deleted, v }) => ({ kind, id, hlc, deleted, data: deleted ? null : { id, v } }));
const replica = fc
  .array(version, { maxLength: 8 })
  .map((vs) => vs.reduce((m, v) => mergeReplicas(m, new Map([[entityKey(v.kind, v.id), v]])), new Map()));

const same = (a: Map<string, EntityVersion>, b: Map<string, EntityVersion>): void => {
  expect(Object.fromEntries([...a].sort())).toEqual(Object.fromEntries([...b].sort()));
};

const params = { numRuns: 500, verbose: 1 } as const;

describe('replica merge (LWW map by HLC, node-name tie-break)', () => {
  it('is commutative', () =>
    fc.assert(
      fc.property(replica, replica, (a, b) => same(mergeReplicas(a, b), mergeReplicas(b, a))),
      params,
    ));

  it('is associative', () =>
    fc.assert(
      fc.property(replica, replica, replica, (a, b, c) =>
        same(mergeReplicas(mergeReplicas(a, b), c), mergeReplicas(a, mergeReplicas(b, c))),
      ),
      params,
    ));

  it('is idempotent', () =>
    fc.assert(
      fc.property(replica, (a) => same(mergeReplicas(a, a), a)),
      params,
    ));

  it('picks one winner for one entity whatever the order, even for forged equal clocks', () =>
    fc.assert(
      fc.property(version, version, (a, b) => {
        const b2 = { ...b, kind: a.kind, id: a.id };
        expect(newer(a, b2)).toEqual(newer(b2, a));
      }),
      params,
    ));
});

describe('hybrid logical clock', () => {
  it('encodes in an order that is the clock order', () =>
    fc.assert(
      fc.property(hlc, hlc, (a, b) => {
        const x = decodeHlc(a)!;
        const y = decodeHlc(b)!;
        const expected =
          x.wall - y.wall || x.counter - y.counter || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0);
        expect(Math.sign(compareHlc(a, b))).toBe(Math.sign(expected));
      }),
      params,
    ));

  it('is strictly monotonic over ticks and observed remote clocks, with a clock that jumps back', () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ t: fc.constant('tick' as const), dt: fc.integer({ min: -1000, max: 1000 }) }),
            fc.record({
              t: fc.constant('observe' as const),
              dt: fc.integer({ min: -1000, max: 1000 }),
              remote: hlc,
            }),
          ),
          { maxLength: 60 },
        ),
        (steps) => {
          let now = 10_000;
          const clock = new HybridClock('me', () => now, 60_000);
          let last = clock.tick();
          for (const s of steps) {
            now = Math.max(0, now + s.dt);
            if (s.t === 'observe') {
              const r = decodeHlc(s.remote)!;
              const remote = encodeHlc({ ...r, wall: now + r.wall * 10 - 250 });
              clock.observe(remote);
              const next = clock.tick();
              expect(compareHlc(next, remote)).toBeGreaterThan(0);
              expect(compareHlc(next, last)).toBeGreaterThan(0);
              last = next;
            } else {
              const next = clock.tick();
              expect(compareHlc(next, last)).toBeGreaterThan(0);
              last = next;
            }
          }
        },
      ),
      params,
    ));

  it('refuses a remote clock far ahead of physical time', () => {
    const clock = new HybridClock('me', () => 1_000_000, 60_000);
    const ahead = encodeHlc({ wall: 1_000_000 + 3_600_000, counter: 0, node: 'evil' });
    expect(clock.acceptable(ahead)).toBe(false);
    expect(() => clock.observe(ahead)).toThrow();
    expect(decodeHlc(clock.tick())!.wall).toBe(1_000_000);
  });
});
