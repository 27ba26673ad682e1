import { describe, expect, it } from 'vitest';
import { WindowTable } from '../../../src/cluster/state/window-table.js';

const spec = { key: 'vk:a:req', limit: 10, duration: { kind: 'fixed' as const, ms: 60_000 } };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function table(self = 'n1') {
  let name = self;
  const t = new WindowTable(
    () => name,
    () => ({ d: 2, nx: 3 }),
    T0,
  );
  return { t, rename: (n: string) => (name = n) };
}

describe('WindowTable', () => {
  it('our first slot in a window starts above every version an earlier process wrote, and makes it live', () => {
    const { t } = table();
    const w = t.forSpec(spec, T0 + 1000);
    expect(t.live.has(w)).toBe(false);
    const own = t.own(w);
    expect(own).toMatchObject({ used: 0, cap: 0, d: 2, nx: 3, a: 0 });
    expect(own.ver).toBeGreaterThanOrEqual(T0 * 1000);
    expect(t.live.has(w)).toBe(true);
    expect(t.forSpec(spec, T0 + 2000)).toBe(w);
  });

  it('usage restored before its window opens appears as spent (used = cap) when it does', () => {
    const { t } = table();
    t.restoreUsage([
      { counter: spec.key, windowStart: T0, node: 'n1', value: 4 },
      { counter: spec.key, windowStart: T0, node: 'n2', value: 3 },
      { counter: spec.key, windowStart: T0, node: 'n2', value: 2 },
    ]);
    const w = t.forSpec(spec, T0 + 10);
    expect(w.slots.get('n1')).toMatchObject({ used: 4, cap: 4 });
    expect(w.slots.get('n2')).toMatchObject({ used: 3, cap: 3, ver: 0 });
    expect(t.live.has(w)).toBe(true);
    expect(t.usageRows(60_000).map((r) => [r.node, r.value])).toEqual([
      ['n1', 4],
      ['n2', 3],
    ]);
  });

  it('usage restored into an open window only ever raises a slot', () => {
    const { t } = table();
    const w = t.forSpec(spec, T0);
    t.own(w).used = 5;
    t.restoreUsage([
      { counter: spec.key, windowStart: T0, node: 'n1', value: 2 },
      { counter: spec.key, windowStart: T0, node: 'n3', value: 1 },
    ]);
    expect(w.slots.get('n1')!.used).toBe(5);
    expect(w.slots.get('n3')).toMatchObject({ used: 1, cap: 1 });
  });

  it('a lost peer keeps what it admitted and gives back its unused claim', () => {
    const { t } = table();
    const w = t.forSpec(spec, T0);
    w.slots.set('n2', { used: 2, cap: 6, ver: 1, d: 0, nx: 0, a: 2 });
    w.echoes.set('n2', 9);
    t.releasePeer('n2');
    expect(w.slots.get('n2')).toMatchObject({ used: 2, cap: 2 });
    expect(w.echoes.has('n2')).toBe(false);
  });

  it('our slots follow our name when the gossip layer names us', () => {
    const { t, rename } = table('local');
    const w = t.forSpec(spec, T0);
    t.own(w).used = 1;
    rename('node-7');
    t.renameSelf('local');
    expect(w.slots.has('local')).toBe(false);
    expect(w.slots.get('node-7')!.used).toBe(1);
  });

  it('windows are forgotten 10 minutes after their end, and full state holds the last minute only', () => {
    const { t } = table();
    const w = t.forSpec(spec, T0);
    t.own(w);
    expect(t.fullState(w.we + 59_000)).toHaveLength(1);
    expect(t.fullState(w.we + 61_000)).toHaveLength(0);
    t.sweepIfDue(w.we + 9 * 60_000);
    expect(t.forWire(spec.key, w.ws, w.we)).toBe(w);
    t.sweepIfDue(w.we + 11 * 60_000);
    expect(t.live.has(w)).toBe(false);
    expect(t.forWire(spec.key, w.ws, w.we)).not.toBe(w);
  });
});
