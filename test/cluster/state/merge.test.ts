import { describe, expect, it } from 'vitest';
import { DemandView } from '../../../src/cluster/state/demand-view.js';
import { mergeWindow } from '../../../src/cluster/state/merge.js';
import { WindowTable } from '../../../src/cluster/state/window-table.js';
import type { WireWin } from '../../../src/cluster/state/wire.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const WS = T0;
const WE = T0 + 60_000;

function setup() {
  const table = new WindowTable(
    () => 'me',
    () => ({ d: 0, nx: 0 }),
    T0,
  );
  const demand = new DemandView(() => T0, 0.25);
  const merge = (entry: WireWin, now = T0 + 1000) => mergeWindow(table, demand, 'me', 'peer', entry, now);
  return { table, demand, merge };
}

describe('mergeWindow', () => {
  it("a third node's slot: newest version wins, used and asked only grow, its demand is noted", () => {
    const { demand, merge } = setup();
    const w = merge(['k', WS, WE, 0, [['n3', 5, 8, 2, 7, 1, 6]]])!;
    expect(w.slots.get('n3')).toEqual({ used: 5, cap: 8, ver: 2, d: 7, nx: 1, a: 6 });
    expect(demand.peer('k', 'n3')).toBe(7);
    merge(['k', WS, WE, 0, [['n3', 3, 4, 1, 0, 0, 2]]]);
    expect(w.slots.get('n3')).toEqual({ used: 5, cap: 8, ver: 2, d: 7, nx: 1, a: 6 });
    merge(['k', WS, WE, 0, [['n3', 4, 5, 3, 1, 1]]]);
    expect(w.slots.get('n3')).toMatchObject({ used: 5, cap: 5, ver: 3, a: 6 });
  });

  it('the echo of our slot confirms our claims up to its version and never lowers our cap', () => {
    const { table, merge } = setup();
    const w = table.forWire('k', WS, WE);
    const own = table.own(w);
    own.cap = 6;
    own.used = 2;
    merge(['k', WS, WE, 0, [['me', 2, 1, own.ver, 0, 4]]]);
    expect(w.echoes.get('peer')).toBe(own.ver);
    expect(w.echoNx.get('peer')).toBe(4);
    expect(own.cap).toBe(6);
    // An older echo does not move the confirmation back.
    merge(['k', WS, WE, 0, [['me', 2, 1, own.ver - 1, 0, 0]]]);
    expect(w.echoes.get('peer')).toBe(own.ver);
    expect(w.echoNx.get('peer')).toBe(4);
  });

  it('an echo that knows more admitted than we do (our earlier process) is adopted, and sent on', () => {
    const { table, merge } = setup();
    const w = table.forWire('k', WS, WE);
    const own = table.own(w);
    w.dirty = false;
    merge(['k', WS, WE, 0, [['me', 9, 9, own.ver + 5, 0, 0, 9]]]);
    expect(own).toMatchObject({ used: 9, cap: 9, a: 9 });
    expect(own.ver).toBeGreaterThan(T0 * 1000 + 5);
    expect(w.dirty).toBe(true);
  });

  it('a window that ended more than 10 minutes ago is ignored', () => {
    const { merge } = setup();
    expect(merge(['k', WS, WE, 0, [['n3', 1, 1, 1, 0, 0]]], WE + 10 * 60_000 + 1)).toBeUndefined();
  });
});
