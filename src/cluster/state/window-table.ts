import { type Duration, windowEnd, windowStart } from '../../config/duration.js';
import type { UsageRow } from '../../store/types.js';
import { newWindow, type Slot, toWire, type Win, windowId } from './window.js';
import type { WireWin } from './wire.js';

/** Ended windows are kept this long after their end (late messages, usage snapshots). */
const KEEP_ENDED_MS = 10 * 60_000;
/** Ended windows are looked for this often. */
const SWEEP_EVERY_MS = 10_000;
/** Windows that ended less than this ago go into a full state (what a (re)started peer needs). */
const FULL_STATE_HORIZON_MS = 60_000;

export interface CounterSpecLike {
  key: string;
  limit: number;
  duration: Duration;
  integer?: boolean;
}

/**
 * Every (counter, window) this node knows, and which of them the tick has to look at (`live`): ours
 * while they are open, and any with something to send or a borrow to confirm. Every other window (a
 * peer's key, a window that ended) only waits for the sweep, so per-tick work follows the keys in use
 * here, not all keys. Usage restored from the store waits here for its window to be opened.
 */
export class WindowTable {
  private readonly wins = new Map<string, Win>();
  readonly live = new Set<Win>();
  private readonly restored = new Map<string, Map<string, number>>();
  private lastSweepAt = Number.NEGATIVE_INFINITY;
  /** Versions of our own slots start above anything an earlier process with our name wrote. */
  private verBase: number;

  constructor(
    private readonly self: () => string,
    /** Demand figures (d, nx) a new slot of ours starts with. */
    private readonly ownDefaults: (key: string, limit: number) => { d: number; nx: number },
    startedAt: number,
  ) {
    this.verBase = startedAt * 1000;
  }

  /** The current window of `spec` at `now`, created on first use; its limit follows the spec. */
  forSpec(spec: CounterSpecLike, now: number): Win {
    const ws = windowStart(spec.duration, now);
    const w = this.forWire(spec.key, ws, windowEnd(spec.duration, ws), spec.limit);
    w.limit = spec.limit;
    w.integer = spec.integer === true;
    w.prevWs ??= windowStart(spec.duration, ws - 1);
    return w;
  }

  /** A window named by a peer (its limit unknown until a request of ours opens it). */
  forWire(key: string, ws: number, we: number, limit = Number.POSITIVE_INFINITY): Win {
    const id = windowId(key, ws);
    let w = this.wins.get(id);
    if (!w) {
      w = this.create(key, ws, we, limit);
      this.wins.set(id, w);
    }
    return w;
  }

  /** The window before `w` (its slots are the demand history), if known. */
  previous(w: Win): Win | undefined {
    return w.prevWs === undefined ? undefined : this.wins.get(windowId(w.key, w.prevWs));
  }

  private create(key: string, ws: number, we: number, limit: number): Win {
    const w = newWindow(key, ws, we, limit);
    const restored = this.restored.get(w.id);
    if (restored) {
      const self = this.self();
      for (const [node, used] of restored)
        w.slots.set(node, { used, cap: used, ver: node === self ? this.verBase++ : 0, d: 0, nx: 0, a: used });
      this.restored.delete(w.id);
      // Our own restored slot makes the window ours: live, as own() makes it.
      if (w.slots.has(self)) this.live.add(w);
    }
    return w;
  }

  /** Our slot of `w`, created (and the window made live) on first use. */
  own(w: Win): Slot {
    const self = this.self();
    let s = w.slots.get(self);
    if (!s) {
      const { d, nx } = this.ownDefaults(w.key, w.limit);
      s = { used: 0, cap: 0, ver: this.verBase++, d, nx, a: 0 };
      w.slots.set(self, s);
      this.live.add(w);
    }
    return s;
  }

  /** Our slot changed in a way peers need at the next flush. */
  mark(w: Win): void {
    w.dirty = true;
    this.live.add(w);
  }

  /** Our slot changed only in what it counts (see Win.minor). */
  markMinor(w: Win): void {
    w.minor = true;
    this.live.add(w);
  }

  /** Forgets windows that ended long ago (at most every SWEEP_EVERY_MS). */
  sweepIfDue(now: number): void {
    if (now - this.lastSweepAt < SWEEP_EVERY_MS) return;
    this.lastSweepAt = now;
    for (const [id, w] of this.wins) {
      if (now <= w.we + KEEP_ENDED_MS) continue;
      this.wins.delete(id);
      this.live.delete(w);
    }
  }

  /** Our name changed (the gossip layer named us): our slots move with it. */
  renameSelf(old: string): void {
    const self = this.self();
    if (old === self) return;
    for (const w of this.wins.values()) {
      const s = w.slots.get(old);
      if (s) {
        w.slots.delete(old);
        w.slots.set(self, s);
      }
    }
  }

  /** A peer was lost: what it admitted stays; its unused claims return to the pool. */
  releasePeer(name: string): void {
    for (const w of this.wins.values()) {
      const s = w.slots.get(name);
      if (s) s.cap = s.used;
      w.echoes.delete(name);
    }
  }

  /** Every slot of every window that ended less than a minute ago. */
  fullState(now: number): WireWin[] {
    const self = this.self();
    const entries: WireWin[] = [];
    for (const w of this.wins.values())
      if (now < w.we + FULL_STATE_HORIZON_MS) entries.push(toWire(w, self, false, 'all'));
    return entries;
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

  /** Merges persisted usage (taken as both used and claimed: it is spent). */
  restoreUsage(rows: readonly UsageRow[]): void {
    const self = this.self();
    for (const r of rows) {
      const id = windowId(r.counter, r.windowStart);
      const w = this.wins.get(id);
      if (!w) {
        let m = this.restored.get(id);
        if (!m) {
          m = new Map();
          this.restored.set(id, m);
        }
        m.set(r.node, Math.max(m.get(r.node) ?? 0, r.value));
        continue;
      }
      if (r.node === self) {
        const own = this.own(w);
        if (r.value > own.used) {
          own.used = r.value;
          own.cap = Math.max(own.cap, r.value);
          own.ver++;
          this.mark(w);
        }
        continue;
      }
      const s = w.slots.get(r.node);
      if (!s) w.slots.set(r.node, { used: r.value, cap: r.value, ver: 0, d: 0, nx: 0, a: r.value });
      else if (r.value > s.used) {
        s.used = r.value;
        s.cap = Math.max(s.cap, r.value);
      }
    }
  }
}
