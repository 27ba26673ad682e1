/**
 * Per-counter demand of this node: attempts per second (EWMA, refreshed every
 * 0.5 s) and the average amount per request. Only counters with recent
 * attempts or a rate still decaying are visited, so the cost follows the keys
 * in use, not every key ever seen.
 */

export interface KeyStats {
  attempts: number;
  amount: number;
  amountEvents: number;
  rate: number;
  avgAmount: number;
  /** The rate as last published in our slots. */
  published: number;
}

const UPDATE_EVERY_S = 0.5;

export class DemandTracker {
  private readonly stats = new Map<string, KeyStats>();
  private readonly active = new Set<string>();
  lastUpdateAt: number;

  constructor(now: number) {
    this.lastUpdateAt = now;
  }

  get(key: string): KeyStats {
    let s = this.stats.get(key);
    if (!s) {
      s = { attempts: 0, amount: 0, amountEvents: 0, rate: 0, avgAmount: 1, published: 0 };
      this.stats.set(key, s);
    }
    return s;
  }

  noteAttempt(key: string): void {
    this.get(key).attempts++;
    this.active.add(key);
  }

  noteAmount(key: string, amount: number): void {
    const st = this.get(key);
    st.amount += amount;
    st.amountEvents++;
    this.active.add(key);
  }

  /** Refreshes the rates (at most every 0.5 s); returns the keys whose published demand changed. */
  update(now: number): string[] {
    const dt = (now - this.lastUpdateAt) / 1000;
    if (dt < UPDATE_EVERY_S) return [];
    this.lastUpdateAt = now;
    const changed: string[] = [];
    for (const key of this.active) {
      const st = this.get(key);
      const r = st.attempts / dt;
      st.rate = st.rate === 0 ? r : 0.5 * st.rate + 0.5 * r;
      if (st.rate < 1e-3) st.rate = 0;
      if (st.amountEvents > 0) st.avgAmount = 0.7 * st.avgAmount + 0.3 * (st.amount / st.amountEvents);
      st.attempts = 0;
      st.amount = 0;
      st.amountEvents = 0;
      if (
        Math.abs(st.rate - st.published) > Math.max(0.1 * st.published, 0.05) ||
        (st.rate === 0 && st.published !== 0)
      ) {
        st.published = st.rate;
        changed.push(key);
      }
      if (st.rate === 0 && st.published === 0) this.active.delete(key);
    }
    return changed;
  }

  /** Expected use over the next `horizonS`, from the rate or a burst since the last update. */
  need(key: string, want: number, now: number, horizonS: number): number {
    const st = this.get(key);
    const dt = Math.max(0.05, (now - this.lastUpdateAt) / 1000);
    const rate = Math.max(st.rate, st.attempts / dt);
    return Math.max(want, rate * st.avgAmount * horizonS);
  }

  avgAmount(key: string): number {
    return Math.max(1e-9, this.get(key).avgAmount);
  }
}
