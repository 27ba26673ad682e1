import type { UsageRow } from '../../store/types.js';
import { createWin, round, type Slot, type Win } from './window.js';
import type { WireSlot, WireWin } from './wire.js';

/**
 * Every counter window a node knows, indexed by id and by counter key (the
 * demand refresh visits a key's windows, not all of them), with the persisted
 * usage waiting for windows not yet created.
 */
export class WindowStore {
  private readonly wins = new Map<string, Win>();
  private readonly byKey = new Map<string, Set<Win>>();
  private readonly restored = new Map<string, Map<string, number>>();

  /** `ownVersion`: a fresh version for a restored slot of our own (above any earlier process's). */
  constructor(private readonly ownVersion: () => number) {}

  get size(): number {
    return this.wins.size;
  }

  get(key: string, ws: number): Win | undefined {
    return this.wins.get(`${key}@${ws}`);
  }

  byId(id: string): Win | undefined {
    return this.wins.get(id);
  }

  values(): IterableIterator<Win> {
    return this.wins.values();
  }

  ofKey(key: string): Iterable<Win> {
    return this.byKey.get(key) ?? [];
  }

  getOrCreate(key: string, ws: number, we: number, limit: number, self: string): Win {
    const id = `${key}@${ws}`;
    let w = this.wins.get(id);
    if (w) return w;
    w = createWin(key, ws, we, limit);
    this.wins.set(id, w);
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    set.add(w);
    const restored = this.restored.get(id);
    if (restored) {
      for (const [node, used] of restored) {
        const ver = node === self ? this.ownVersion() : 0;
        w.slots.set(node, { used, cap: used, ver, d: 0, nx: 0, a: used });
      }
      this.restored.delete(id);
    }
    return w;
  }

  drop(w: Win): void {
    this.wins.delete(w.id);
    const set = this.byKey.get(w.key);
    set?.delete(w);
    if (set?.size === 0) this.byKey.delete(w.key);
  }

  /** Our slots move to our cluster name. */
  rename(from: string, to: string): void {
    for (const w of this.wins.values()) {
      const s = w.slots.get(from);
      if (s) {
        w.slots.delete(from);
        w.slots.set(to, s);
      }
    }
  }

  /** Every window ending less than `afterEndMs` ago, every slot of it, for a full-state message. */
  fullState(now: number, afterEndMs: number): WireWin[] {
    const out: WireWin[] = [];
    for (const w of this.wins.values()) if (now < w.we + afterEndMs) out.push(toWire(w));
    return out;
  }

  /** Usage slots of windows at least `minDurationMs` long, for the store. */
  usageRows(minDurationMs: number): UsageRow[] {
    const rows: UsageRow[] = [];
    for (const w of this.wins.values()) {
      if (w.we - w.ws < minDurationMs) continue;
      for (const [node, s] of w.slots)
        if (s.used > 0) rows.push({ counter: w.key, windowStart: w.ws, node, value: s.used });
    }
    return rows;
  }

  /** Persisted usage of a window we do not have yet: applied when it is created. */
  keepRestored(r: UsageRow): void {
    const id = `${r.counter}@${r.windowStart}`;
    let m = this.restored.get(id);
    if (!m) {
      m = new Map();
      this.restored.set(id, m);
    }
    m.set(r.node, Math.max(m.get(r.node) ?? 0, r.value));
  }
}

export function wireSlot(node: string, s: Slot): WireSlot {
  return [node, round(s.used), round(s.cap), s.ver, round(s.d), round(s.nx), round(s.a)];
}

/** A window with every slot we know. */
export function toWire(w: Win): WireWin {
  const slots: WireSlot[] = [];
  for (const [node, s] of w.slots) slots.push(wireSlot(node, s));
  return [w.key, w.ws, w.we, 0, slots];
}
