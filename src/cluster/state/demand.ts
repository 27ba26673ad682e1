/** One counter key's demand on this node. */
export interface KeyDemand {
  /** Attempts and charged amounts since the last roll. */
  attempts: number;
  amount: number;
  amountEvents: number;
  /** Attempts per second (smoothed) and the mean amount per charge. */
  rate: number;
  avgAmount: number;
  /** The rate as last announced to peers (announced again when it moves by more than 10%). */
  published: number;
  /** Roll time of the last attempt: a key idle for long is forgotten. */
  lastActiveAt: number;
}

/** A key with no attempt for this long is dropped (memory follows keys in use). */
const FORGET_IDLE_MS = 5 * 60_000;

/** Per-key demand of this node: what the shares of every limit are computed from. */
export class DemandStats {
  private readonly keys = new Map<string, KeyDemand>();

  get(key: string): KeyDemand {
    let s = this.keys.get(key);
    if (!s) {
      s = { attempts: 0, amount: 0, amountEvents: 0, rate: 0, avgAmount: 1, published: 0, lastActiveAt: 0 };
      this.keys.set(key, s);
    }
    return s;
  }

  get size(): number {
    return this.keys.size;
  }

  noteAttempt(key: string): void {
    this.get(key).attempts++;
  }

  noteCharge(key: string, amount: number): void {
    const s = this.get(key);
    s.amount += amount;
    s.amountEvents++;
  }

  /**
   * Folds the counts of the last `dtS` seconds into the rates (at `now`); returns the keys whose
   * published demand changed, which the caller announces.
   */
  roll(dtS: number, now: number): Set<string> {
    const changed = new Set<string>();
    for (const [key, st] of this.keys) {
      if (st.attempts > 0) st.lastActiveAt = now;
      const r = st.attempts / dtS;
      st.rate = st.rate === 0 ? r : 0.5 * st.rate + 0.5 * r;
      if (st.amountEvents > 0) st.avgAmount = 0.7 * st.avgAmount + 0.3 * (st.amount / st.amountEvents);
      st.attempts = 0;
      st.amount = 0;
      st.amountEvents = 0;
      if (Math.abs(st.rate - st.published) > Math.max(0.1 * st.published, 0.05)) {
        st.published = st.rate;
        changed.add(key);
      }
      if (st.rate < 1e-3 && now - st.lastActiveAt > FORGET_IDLE_MS) this.keys.delete(key);
    }
    return changed;
  }
}
