import type { AttemptOutcome, KeyCandidate, KeyRouter } from '../../gateway/hooks.js';
import type { CircuitBreakers } from './circuits.js';
import { classify, type LocalStats } from './local-stats.js';
import { type QuotaPacer, waterFill } from './pacer.js';
import { parseQuotaHeaders } from './quota.js';
import { hardErrors, type KeyQuota, type KeyStats, WINDOW_SECONDS } from './types.js';
import type { ClusterTrafficView } from './view.js';

export type RoutingMode = 'weighted' | 'least-latency' | 'adaptive';

export interface RouterOptions {
  /** One mode for every provider, or each provider's own (`network_config.routing`). */
  mode: RoutingMode | ((provider: string) => RoutingMode);
  stats: LocalStats;
  view: ClusterTrafficView;
  circuits: CircuitBreakers;
  pacer: QuotaPacer;
  now?: () => number;
  /** How often scores are recomputed from the cluster view. */
  scoreIntervalMs?: number;
  random?: () => number;
  /** Quota observations of ours are handed here (to gossip them). */
  onQuota?: (q: KeyQuota) => void;
}

interface Score {
  at: number;
  /** Multiplier on the configured weight from error rate and latency (1 = no data). */
  factor: number;
  /** Cluster-wide requests per second to this key (all nodes). */
  clusterRps: number;
  localRps: number;
}

const SCORE_CACHE_MAX = 4096;
/** Floor of the health factor: a bad but not open key still gets a trickle (it is how we learn it recovered). */
const MIN_FACTOR = 0.01;

/**
 * The adaptive key router (KeyRouter seam of the gateway). Per attempt it
 * takes the candidates the gateway offers and:
 * 1. drops keys already tried, keys with an open circuit (half-open ones
 *    only on the one node that holds the probe), keys the provider asked to
 *    wait (retry-after) and keys paced out of quota; a half-open key whose
 *    probe this node may claim gets the request at once;
 * 2. weighs the rest: the configured weight as the prior, times (adaptive)
 *    a health factor from the cluster-wide hard-error rate and a latency
 *    factor (fastest / this)³, or (least-latency) (fastest / this)⁶;
 *    weighted mode keeps the configured weights;
 * 3. shares the cluster's demand by water-filling with each key's
 *    available quota rate, then picks at random by those weights.
 * Scores are recomputed from the merged view every `scoreIntervalMs`
 * (default 1 s); choose() itself touches only cached numbers.
 */
export class AdaptiveKeyRouter implements KeyRouter {
  private readonly scores = new Map<string, Score>();
  private readonly known = new Map<string, readonly KeyCandidate[]>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly interval: number;

  constructor(private readonly opts: RouterOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.interval = opts.scoreIntervalMs ?? 1000;
  }

  modeOf(provider: string): RoutingMode {
    const m = this.opts.mode;
    return typeof m === 'function' ? m(provider) : m;
  }

  choose(
    provider: string,
    model: string,
    candidates: readonly KeyCandidate[],
    avoid: ReadonlySet<string> | undefined,
  ): number {
    const tk = `${provider}\u0000${model}`;
    if (this.known.get(tk) !== candidates) {
      if (this.known.size >= SCORE_CACHE_MAX) this.known.clear();
      this.known.set(tk, candidates);
    }
    const { circuits, pacer } = this.opts;
    const mode = this.modeOf(provider);
    const idx: number[] = [];
    const prior: number[] = [];
    const rates: (number | undefined)[] = [];
    let demand = 0;
    let fallback = -1;
    let fallbackRemaining = -Infinity;
    let open: number[] | undefined;
    let anyClosed = false;
    let halfOpen: number[] | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      if (c.weight <= 0) continue;
      const state = circuits.state(provider, c.name, model);
      const isOpen = state === 'open';
      if (!isOpen) anyClosed = true;
      if (avoid?.has(c.name)) continue;
      if (isOpen) {
        open ??= [];
        open.push(i);
        continue;
      }
      if (pacer.coolingDown(provider, c.name)) continue;
      const s = this.score(provider, c.name, model);
      demand += s.clusterRps;
      let rate: number | undefined;
      if (mode !== 'weighted') {
        const a = pacer.available(provider, c.name, Math.max(0, s.clusterRps - s.localRps));
        if (a && a.remaining <= 0) {
          // Paced out; remembered as the least-bad choice should every key be.
          if (a.remaining > fallbackRemaining) {
            fallback = i;
            fallbackRemaining = a.remaining;
          }
          continue;
        }
        rate = a?.rate;
      }
      // A half-open key is never drawn by weight: it is probed below, or refused (another node owns the probe).
      if (state === 'half_open') {
        halfOpen ??= [];
        halfOpen.push(i);
        continue;
      }
      idx.push(i);
      prior.push(c.weight * (mode === 'weighted' ? 1 : s.factor));
      rates.push(rate);
    }
    // A half-open key is probed by the first request its probe owner sees: weighed by its health factor
    // (the error rate that opened it, floored at 1%) it would wait ~100 requests for its one probe, and
    // recovery would hang on luck. A failed probe costs the client nothing: the attempt loop moves on.
    if (halfOpen)
      for (const i of halfOpen)
        if (circuits.allow(provider, candidates[i]!.name, model)) {
          if (mode !== 'weighted') pacer.sent(provider, candidates[i]!.name);
          return i;
        }
    const weights = rates.some((r) => r !== undefined) ? waterFill(prior, rates, demand) : prior;
    while (idx.length > 0) {
      let total = 0;
      for (const w of weights) total += w;
      let j = 0;
      if (total > 0) {
        let r = this.random() * total;
        for (; j < idx.length - 1; j++) {
          r -= weights[j]!;
          if (r < 0) break;
        }
      } else j = Math.floor(this.random() * idx.length);
      const i = idx[j]!;
      // allow() claims the probe of a half-open circuit; refused when another node holds it.
      if (circuits.allow(provider, candidates[i]!.name, model)) {
        if (mode !== 'weighted') pacer.sent(provider, candidates[i]!.name);
        return i;
      }
      idx.splice(j, 1);
      weights.splice(j, 1);
    }
    if (fallback >= 0 && circuits.allow(provider, candidates[fallback]!.name, model)) return fallback;
    // Panic mode (Envoy's panic threshold): when every key's circuit is open, a flaky upstream
    // (30% errors open circuits by chance) must not turn into 100% refusals: spread over them by weight.
    if (open && !anyClosed && idx.length === 0 && fallback < 0)
      return weightedPick(open, candidates, this.random);
    return -1;
  }

  targetOpen(provider: string, model: string): boolean {
    const cands = this.known.get(`${provider}\u0000${model}`);
    if (!cands || cands.length === 0) return false;
    return cands.every((c) => this.opts.circuits.state(provider, c.name, model) === 'open');
  }

  record(o: AttemptOutcome): void {
    const now = this.now();
    this.opts.stats.record(o);
    const cls = classify(o);
    this.opts.circuits.record(
      o.provider,
      o.keyName,
      o.model,
      cls === 'ok'
        ? 'ok'
        : cls === 'server_error' || cls === 'timeout' || cls === 'connect'
          ? 'hard'
          : 'neutral',
    );
    const obs = parseQuotaHeaders(o.quotaHeaders, now);
    if (o.status === 429) {
      // No retry-after: wait until the window resets when the provider said it is empty, else 1 s.
      const until =
        obs?.retryUntil ??
        (obs?.requests && obs.requests.remaining <= 0 ? obs.requests.resetAt : undefined) ??
        now + 1000;
      const q: KeyQuota = { provider: o.provider, key: o.keyName, at: now, ...obs, retryUntil: until };
      this.opts.view.observeQuota(q);
      this.opts.onQuota?.(q);
    } else if (obs && (obs.requests || obs.tokens)) {
      const q: KeyQuota = {
        provider: o.provider,
        key: o.keyName,
        at: now,
        requests: obs.requests,
        tokens: obs.tokens,
      };
      if (!q.requests) delete q.requests;
      if (!q.tokens) delete q.tokens;
      this.opts.view.observeQuota(q);
      this.opts.onQuota?.(q);
    }
  }

  /** The cached score of one key, recomputed from the cluster view when older than the interval. */
  score(provider: string, key: string, model: string): Score {
    const id = `${provider}\u0000${key}\u0000${model}`;
    const t = this.now();
    const cur = this.scores.get(id);
    if (cur && t - cur.at < this.interval) return cur;
    if (!cur && this.scores.size >= SCORE_CACHE_MAX) this.scores.clear();
    const next = this.computeScore(provider, key, model, t);
    this.scores.set(id, next);
    return next;
  }

  private computeScore(provider: string, key: string, model: string, t: number): Score {
    const s = this.opts.view.stats(provider, key, model);
    const local = this.opts.stats.get(provider, key, model);
    const clusterRps = s.requests / WINDOW_SECONDS;
    const localRps = (local?.requests ?? 0) / WINDOW_SECONDS;
    const mode = this.modeOf(provider);
    let factor = 1;
    if (mode !== 'weighted') {
      factor = mode === 'adaptive' ? healthFactor(s) : 1;
      const fastest = this.fastestPeer(provider, model, key, s);
      if (fastest > 0 && s.latencyMs > 0 && s.ok >= 3) {
        const ratio = Math.min(1, fastest / s.latencyMs);
        factor *= mode === 'least-latency' ? ratio ** 6 : ratio ** 3;
      }
      factor = Math.max(MIN_FACTOR, factor);
    }
    return { at: t, factor, clusterRps, localRps };
  }

  /** Lowest latency among this model's known keys with enough samples (this one included). */
  private fastestPeer(provider: string, model: string, key: string, self: KeyStats): number {
    let best = self.ok >= 3 && self.latencyMs > 0 ? self.latencyMs : 0;
    for (const c of this.known.get(`${provider}\u0000${model}`) ?? []) {
      if (c.name === key) continue;
      const o = this.opts.view.stats(provider, c.name, model);
      if (o.ok >= 3 && o.latencyMs > 0 && (best === 0 || o.latencyMs < best)) best = o.latencyMs;
    }
    return best;
  }
}

/** (1 - hard error rate)², with a Beta(1,1) prior so two samples do not decide. Quota 429s are not the key's fault. */
function healthFactor(s: KeyStats): number {
  const bad = hardErrors(s);
  const n = s.ok + bad;
  if (n === 0) return 1;
  const okRate = (s.ok + 1) / (n + 2);
  return okRate * okRate;
}

function weightedPick(
  among: readonly number[],
  candidates: readonly KeyCandidate[],
  random: () => number,
): number {
  let total = 0;
  for (const i of among) total += candidates[i]!.weight;
  let r = random() * total;
  for (const i of among) {
    r -= candidates[i]!.weight;
    if (r < 0) return i;
  }
  return among[among.length - 1]!;
}
