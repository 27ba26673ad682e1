import { DemandStats } from './demand.js';

/** Demand is folded into rates at most this often (s). */
const ROLL_EVERY_S = 0.5;
/** A peer's demand for a key not heard of for this long is forgotten (memory follows keys in use). */
const FORGET_PEER_DEMAND_MS = 5 * 60_000;

/**
 * What every node wants of each counter, as this node knows it: its own demand (DemandStats) and the
 * demand each peer published in its slots. Shares of a limit, the size of the next claim and the bound
 * announced for it are computed from here.
 */
export class DemandView {
  private readonly own = new DemandStats();
  /** key -> node -> published demand, and when it was heard. */
  private readonly peers = new Map<string, Map<string, { d: number; at: number }>>();
  private lastRollAt: number;
  private lastForgetAt: number;

  constructor(
    private readonly now: () => number,
    /** Seconds of demand a claim tries to cover. */
    private readonly horizonS: number,
  ) {
    this.lastRollAt = now();
    this.lastForgetAt = this.lastRollAt;
  }

  noteAttempt(key: string): void {
    this.own.noteAttempt(key);
  }

  noteCharge(key: string, amount: number): void {
    this.own.noteCharge(key, amount);
  }

  /** Our demand for `key` as last announced. */
  published(key: string): number {
    return this.own.get(key).published;
  }

  /** A peer's demand for `key` as it last announced it (0: none known). */
  peer(key: string, node: string): number {
    return this.peers.get(key)?.get(node)?.d ?? 0;
  }

  notePeer(key: string, node: string, d: number): void {
    let m = this.peers.get(key);
    if (!m) {
      m = new Map();
      this.peers.set(key, m);
    }
    m.set(node, { d, at: this.now() });
  }

  /** Share of `node` in the demand of `self` and `peers` for `key`; idle nodes keep a small share. */
  share(key: string, node: string, self: string, peers: Iterable<string>): number {
    const vals = new Map<string, number>([[self, this.published(key)]]);
    for (const p of peers) vals.set(p, this.peer(key, p));
    let sum = 0;
    for (const v of vals.values()) sum += v;
    const eps = 1e-3 + (0.05 * sum) / vals.size;
    return ((vals.get(node) ?? 0) + eps) / (sum + eps * vals.size);
  }

  /** Expected use over the next horizon, from the demand EWMA or a burst since the last roll. */
  need(key: string, want: number): number {
    const st = this.own.get(key);
    const dt = Math.max(0.05, (this.now() - this.lastRollAt) / 1000);
    const rate = Math.max(st.rate, st.attempts / dt);
    return Math.max(want, rate * st.avgAmount * this.horizonS);
  }

  /**
   * Our announced bound for our next claim on `key`: about 0.5 s of our demand, and at least 10% of the
   * limit so a burst is served in a few claim rounds. A peer that loses us keeps this much reserved.
   */
  nextBound(key: string, limit: number): number {
    return Math.max(this.need(key, 1) * 2, Number.isFinite(limit) ? limit * 0.1 : 0);
  }

  /** Mean amount one request of `key` charges (never 0). */
  avgAmount(key: string): number {
    return Math.max(1e-9, this.own.get(key).avgAmount);
  }

  /** Folds the counts since the last roll into rates, when one is due; returns the keys whose published demand changed. */
  rollIfDue(now: number): Set<string> | undefined {
    const dt = (now - this.lastRollAt) / 1000;
    if (dt < ROLL_EVERY_S) return undefined;
    this.lastRollAt = now;
    if (now - this.lastForgetAt > FORGET_PEER_DEMAND_MS / 5) {
      this.lastForgetAt = now;
      for (const [key, m] of this.peers) {
        for (const [node, e] of m) if (now - e.at > FORGET_PEER_DEMAND_MS) m.delete(node);
        if (m.size === 0) this.peers.delete(key);
      }
    }
    return this.own.roll(dt, now);
  }
}
