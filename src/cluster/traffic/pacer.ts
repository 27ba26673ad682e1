import type { KeyQuota } from './types.js';
import { keyId } from './types.js';

export interface PacerOptions {
  now?: () => number;
  /** Requests kept in reserve per key (covers gossip staleness across nodes). */
  reserveRequests?: number;
  /** Fraction of the limit kept in reserve, whichever is larger. */
  reserveFraction?: number;
}

export interface QuotaSource {
  quota(provider: string, key: string): KeyQuota | undefined;
}

/**
 * Cluster-wide quota pacing from the providers' own rate-limit headers.
 * Each key's freshest observation (from any node) says what was left and
 * when it resets; the requests sent since then by the whole cluster (ours
 * counted exactly, the others' estimated from their gossiped rate) are
 * taken off. That gives each key an available rate until its reset; the
 * router shares the cluster's demand across keys by water-filling those
 * rates with the configured weights, so a key is used below its quota
 * before the provider ever answers 429. A key whose estimate is within the
 * reserve, or that the provider asked to wait (retry-after), is not used.
 */
export class QuotaPacer {
  private readonly sentSince = new Map<string, { at: number; n: number }>();
  private readonly now: () => number;
  private readonly reserveRequests: number;
  private readonly reserveFraction: number;

  constructor(
    private readonly source: QuotaSource,
    opts: PacerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.reserveRequests = opts.reserveRequests ?? 3;
    this.reserveFraction = opts.reserveFraction ?? 0.05;
  }

  /** Counts one request this node sends with the key. */
  sent(provider: string, key: string): void {
    const q = this.source.quota(provider, key);
    if (!q) return;
    const id = keyId(provider, key);
    const s = this.sentSince.get(id);
    if (!s || s.at !== q.at) this.sentSince.set(id, { at: q.at, n: 1 });
    else s.n++;
  }

  /** True when the provider asked us to wait (a 429's retry-after or reset) and the time is not up. */
  coolingDown(provider: string, key: string): boolean {
    const q = this.source.quota(provider, key);
    return q?.retryUntil !== undefined && q.retryUntil > this.now();
  }

  /**
   * Requests per second this key can still take until its reset, the
   * estimate of what is left now, or undefined when the provider never said
   * (unlimited as far as we know). `otherNodesRps`: the rest of the cluster's
   * rate on this key.
   */
  available(
    provider: string,
    key: string,
    otherNodesRps: number,
  ): { rate: number; remaining: number } | undefined {
    const q = this.source.quota(provider, key);
    const w = q?.requests;
    if (!q || !w) return undefined;
    const t = this.now();
    const reserve = Math.max(this.reserveRequests, w.limit * this.reserveFraction);
    if (t >= w.resetAt) {
      // The window reset since the observation: assume a full one of the same length.
      const span = Math.max(1000, w.resetAt - q.at);
      return { rate: (w.limit - reserve) / (span / 1000), remaining: w.limit };
    }
    const id = keyId(provider, key);
    const s = this.sentSince.get(id);
    const mine = s && s.at === q.at ? s.n : 0;
    const others = otherNodesRps * ((t - q.at) / 1000);
    const remaining = Math.max(0, w.remaining - mine - others);
    const ttr = Math.max(1000, w.resetAt - t);
    return { rate: Math.max(0, remaining - reserve) / (ttr / 1000), remaining: remaining - reserve };
  }
}

/**
 * Shares `demand` across keys: each gets min(its available rate, λ·weight),
 * λ chosen so the shares add up to the demand (or every key is at its rate).
 * Keys with no known rate take whatever λ gives them. Returns per-key
 * shares to use as weights.
 */
export function waterFill(
  weights: readonly number[],
  rates: readonly (number | undefined)[],
  demand: number,
): number[] {
  const n = weights.length;
  const out = new Array<number>(n).fill(0);
  if (demand <= 0) return weights.map((w, i) => (rates[i] === 0 ? 0 : w));
  const order = [...weights.keys()]
    .filter((i) => weights[i]! > 0)
    .sort((a, b) => (rates[a] ?? Infinity) / weights[a]! - (rates[b] ?? Infinity) / weights[b]!);
  let left = demand;
  let wLeft = 0;
  for (const i of order) wLeft += weights[i]!;
  for (const i of order) {
    const w = weights[i]!;
    const fair = (left * w) / wLeft;
    const r = rates[i];
    const x = r === undefined ? fair : Math.min(r, fair);
    out[i] = x;
    left -= x;
    wLeft -= w;
  }
  return out;
}
