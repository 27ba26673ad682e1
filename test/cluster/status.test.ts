import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type StatusRow, StatusView } from '../../src/cluster/status.js';

const row = (name: string, state: StatusRow['state'] = 'alive'): StatusRow => ({
  name,
  address: `10.0.0.1:${name.length}`,
  httpAddress: 'h:1',
  state,
  incarnation: 1,
  version: 'v',
});

describe('StatusView (incremental /cluster/status)', () => {
  it('keeps rows sorted, counts live and healthy members, and caches the verdict until something changes', () => {
    const unhealthy = new Set<string>();
    let healthReads = 0;
    const v = new StatusView({
      localName: 'b',
      isHealthy: (r) => {
        healthReads++;
        return r.state === 'alive' && !unhealthy.has(r.name);
      },
      traffic: (n) => (n === 'b' ? { rps: 1, in_flight: 0, error_rate: 0 } : null),
    });
    for (const n of ['c', 'a', 'b']) v.upsert(row(n));
    expect(v.snapshot().nodes.map((n) => n.name)).toEqual(['a', 'b', 'c']);
    expect(v.summary()).toEqual({ members: 3, healthy_members: 3, cluster_health: 'HEALTHY' });
    const reads = healthReads;
    for (let i = 0; i < 100; i++) v.summary();
    expect(healthReads).toBe(reads);
    unhealthy.add('c');
    v.healthChanged();
    expect(v.summary()).toEqual({ members: 3, healthy_members: 2, cluster_health: 'NOT HEALTHY' });
    v.upsert(row('c', 'left'));
    expect(v.summary()).toEqual({ members: 2, healthy_members: 2, cluster_health: 'HEALTHY' });
    expect(v.snapshot().nodes.find((n) => n.name === 'b')?.traffic?.rps).toBe(1);
    v.remove('c');
    expect(v.size).toBe(2);
  });

  it('matches a from-scratch computation after any sequence of events', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'),
            fc.constantFrom('alive', 'suspect', 'dead', 'left', 'remove') as fc.Arbitrary<
              StatusRow['state'] | 'remove'
            >,
          ),
          { maxLength: 60 },
        ),
        (events) => {
          const v = new StatusView({
            localName: 'n1',
            isHealthy: (r) => r.state === 'alive',
            traffic: () => null,
          });
          const truth = new Map<string, StatusRow['state']>();
          for (const [name, st] of events) {
            if (st === 'remove') {
              v.remove(name);
              truth.delete(name);
            } else {
              v.upsert(row(name, st));
              truth.set(name, st);
            }
            const live = [...truth.values()].filter((s) => s === 'alive' || s === 'suspect').length;
            const healthy = [...truth.values()].filter((s) => s === 'alive').length;
            const s = v.snapshot();
            expect(s.members).toBe(live);
            expect(s.healthy_members).toBe(healthy);
            expect(s.nodes.map((n) => n.name)).toEqual([...truth.keys()].sort());
          }
        },
      ),
      { verbose: 1 },
    );
  });
});
