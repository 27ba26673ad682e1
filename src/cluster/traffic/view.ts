import { emptyStats, type KeyQuota, type KeyStats, keyId, type NodeHealth, statsId } from './types.js';
import type { TrafficMessage } from './wire.js';

/** A remote entry not refreshed for this long is stale (its window would have emptied). */
const ENTRY_TTL_MS = 12_000;
const HEALTH_TTL_MS = 30_000;
const MAX_NODES = 4096;
const MAX_ENTRIES_PER_NODE = 1024;

interface RemoteNode {
  health?: { h: NodeHealth; at: number };
  stats: Map<string, { s: KeyStats; at: number }>;
}

export interface LocalSource {
  readonly name: string;
  stats(): KeyStats[];
  health(): NodeHealth;
}

/**
 * The cluster-wide picture: the local node's own figures plus what every peer
 * last reported, merged per (provider, key, model). Counts are summed; the
 * latency EWMA is the request-weighted mean across nodes; p99 is the largest
 * node p99 among nodes with samples (an upper bound, never an underestimate).
 * Merged results are cached for `cacheMs` so readers on the request path pay
 * for a recomputation at most that often.
 */
export class ClusterTrafficView {
  private readonly nodes = new Map<string, RemoteNode>();
  private readonly quotas = new Map<string, KeyQuota>();
  private merged: { at: number; byId: Map<string, KeyStats> } | undefined;

  constructor(
    private readonly local: LocalSource,
    private readonly now: () => number = Date.now,
    private readonly cacheMs = 250,
  ) {}

  /** Applies one peer message. */
  apply(from: string, m: TrafficMessage): void {
    if (from === this.local.name) return;
    let n = this.nodes.get(from);
    if (!n) {
      if (this.nodes.size >= MAX_NODES) return;
      n = { stats: new Map() };
      this.nodes.set(from, n);
    }
    const at = this.now();
    if (m.health) n.health = { h: m.health, at };
    for (const s of m.stats) {
      const id = statsId(s.provider, s.key, s.model);
      if (!n.stats.has(id) && n.stats.size >= MAX_ENTRIES_PER_NODE) continue;
      n.stats.set(id, { s, at });
    }
    for (const q of m.quotas) this.observeQuota(q);
    this.merged = undefined;
  }

  /** Keeps the freshest quota observation per key (ours or a peer's). */
  observeQuota(q: KeyQuota): void {
    const id = keyId(q.provider, q.key);
    const cur = this.quotas.get(id);
    if (!cur || q.at >= cur.at) {
      if (!cur && this.quotas.size >= MAX_NODES * 4) return;
      this.quotas.set(
        id,
        cur && q.retryUntil === undefined && cur.retryUntil ? { ...q, retryUntil: cur.retryUntil } : q,
      );
    } else if (q.retryUntil !== undefined && (cur.retryUntil ?? 0) < q.retryUntil) {
      cur.retryUntil = q.retryUntil;
    }
  }

  quota(provider: string, key: string): KeyQuota | undefined {
    return this.quotas.get(keyId(provider, key));
  }

  allQuotas(): KeyQuota[] {
    return [...this.quotas.values()];
  }

  /** Forgets a node (dead or left). */
  forget(node: string): void {
    if (this.nodes.delete(node)) this.merged = undefined;
  }

  /** Cluster-wide stats of one (provider, key, model). */
  stats(provider: string, key: string, model: string): KeyStats {
    return this.mergedStats().get(statsId(provider, key, model)) ?? emptyStats(provider, key, model);
  }

  allStats(): KeyStats[] {
    return [...this.mergedStats().values()].sort(
      (a, b) => cmp(a.provider, b.provider) || cmp(a.key, b.key) || cmp(a.model, b.model),
    );
  }

  /** Per-node health: local first, then each peer that reported recently. */
  health(): { node: string; health: NodeHealth; ageMs: number }[] {
    const t = this.now();
    const out = [{ node: this.local.name, health: this.local.health(), ageMs: 0 }];
    for (const [name, n] of this.nodes)
      if (n.health && t - n.health.at <= HEALTH_TTL_MS)
        out.push({ node: name, health: n.health.h, ageMs: t - n.health.at });
    return out;
  }

  nodeHealth(node: string): NodeHealth | undefined {
    if (node === this.local.name) return this.local.health();
    const h = this.nodes.get(node)?.health;
    return h && this.now() - h.at <= HEALTH_TTL_MS ? h.h : undefined;
  }

  private mergedStats(): Map<string, KeyStats> {
    const t = this.now();
    if (this.merged && t - this.merged.at < this.cacheMs) return this.merged.byId;
    const byId = new Map<string, KeyStats>();
    const weight = new Map<string, { lat: number; latN: number; ttft: number; ttftN: number }>();
    const add = (s: KeyStats) => {
      const id = statsId(s.provider, s.key, s.model);
      let m = byId.get(id);
      if (!m) {
        m = emptyStats(s.provider, s.key, s.model);
        byId.set(id, m);
        weight.set(id, { lat: 0, latN: 0, ttft: 0, ttftN: 0 });
      }
      m.requests += s.requests;
      m.ok += s.ok;
      m.rateLimited += s.rateLimited;
      m.serverErrors += s.serverErrors;
      m.timeouts += s.timeouts;
      m.connectErrors += s.connectErrors;
      m.otherErrors += s.otherErrors;
      const w = weight.get(id)!;
      if (s.latencyMs > 0) {
        const n = Math.max(1, s.ok);
        w.lat += s.latencyMs * n;
        w.latN += n;
        m.p99Ms = Math.max(m.p99Ms, s.p99Ms);
        m.p50Ms = Math.max(m.p50Ms, s.p50Ms);
      }
      if (s.ttftMs > 0) {
        const n = Math.max(1, s.ok);
        w.ttft += s.ttftMs * n;
        w.ttftN += n;
        m.ttftP99Ms = Math.max(m.ttftP99Ms, s.ttftP99Ms);
      }
    };
    for (const s of this.local.stats()) add(s);
    for (const [name, n] of this.nodes) {
      for (const [id, e] of n.stats) {
        if (t - e.at > ENTRY_TTL_MS) n.stats.delete(id);
        else add(e.s);
      }
      if (n.stats.size === 0 && (!n.health || t - n.health.at > HEALTH_TTL_MS)) this.nodes.delete(name);
    }
    for (const [id, w] of weight) {
      const m = byId.get(id)!;
      if (w.latN > 0) m.latencyMs = Math.round((w.lat / w.latN) * 100) / 100;
      if (w.ttftN > 0) m.ttftMs = Math.round((w.ttft / w.ttftN) * 100) / 100;
    }
    this.merged = { at: t, byId };
    return byId;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
