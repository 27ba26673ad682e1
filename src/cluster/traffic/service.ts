import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from '../../observability/logger.js';
import { CHANNELS } from '../channels.js';
import type { ClusterLike, GossipChannel } from '../state/gossip.js';
import { CircuitBreakers, PROBING } from './circuits.js';
import { LocalStats } from './local-stats.js';
import { registerTrafficMetrics } from './metrics.js';
import { NodeHealthSampler } from './node-health.js';
import { QuotaPacer } from './pacer.js';
import { AdaptiveKeyRouter, type RoutingMode } from './router.js';
import { hardErrors, type KeyQuota, keyId, type NodeHealth, statsId, WINDOW_SECONDS } from './types.js';
import { ClusterTrafficView } from './view.js';
import { decodeTraffic, encodeTraffic, statsToTuple, type TrafficMessage } from './wire.js';

const stateSchema = z.strictObject({
  n: z.string().min(1).max(255),
  c: z.array(z.string().max(4096)).max(64),
});

export interface TrafficServiceOptions {
  /** Default routing mode; providers may set their own with setModes(). */
  mode: RoutingMode;
  /** Requests being served by this node now, and its recent request rate. */
  inFlight: () => number;
  rps: () => number;
  logger?: Logger;
  registry?: Registry;
  now?: () => number;
  /** Random source of the router (seeded in simulations). */
  random?: () => number;
  publishIntervalMs?: number;
  /** Unchanged entries are re-sent this often (and at once to a newcomer). */
  refreshMs?: number;
  circuit?: { consecutiveFailures?: number; baseOpenMs?: number; maxOpenMs?: number; probeSlotMs?: number };
  /** Error rate over the cluster-wide window that opens a circuit, and the minimum attempts to judge. */
  openErrorRate?: number;
  openMinAttempts?: number;
}

/** What /cluster/status shows under `traffic` (documented for the dashboard). */
export interface TrafficStatus {
  /** Routing mode per provider (providers not listed use `default`). */
  routing: { default: RoutingMode; providers: Record<string, RoutingMode> };
  window_seconds: number;
  keys: {
    provider: string;
    key: string;
    model: string;
    routing: RoutingMode;
    requests: number;
    ok: number;
    errors: { rate_limited: number; server_error: number; timeout: number; connect: number; other: number };
    error_rate: number;
    latency_ms: { ewma: number; p50: number; p99: number };
    ttft_ms: { ewma: number; p99: number } | null;
    circuit: 'closed' | 'open' | 'half_open';
    weight_factor: number;
    quota: { limit: number; remaining: number; reset_at: string; retry_until: string | null } | null;
  }[];
  nodes: {
    name: string;
    cpu: number;
    rss_mb: number;
    loop_lag_ms: number;
    in_flight: number;
    rps: number;
    age_ms: number;
  }[];
}

/**
 * Traffic intelligence for one node: measures every upstream attempt
 * (through the router's record()), gossips this node's changes as compact
 * deltas once a second over memberlist's broadcast queue (each message is
 * piggybacked to a few random peers per round and retransmitted a bounded
 * number of times: O(N log N) per update, never O(N²)), merges what peers
 * report, and runs the circuit breakers and quota pacer the router uses.
 */
export class TrafficService {
  readonly stats: LocalStats;
  readonly view: ClusterTrafficView;
  readonly circuits: CircuitBreakers;
  readonly pacer: QuotaPacer;
  readonly router: AdaptiveKeyRouter;
  readonly health: NodeHealthSampler;
  private nodeName = 'local';
  private modes = new Map<string, RoutingMode>();
  private cluster: ClusterLike | undefined;
  private channel: GossipChannel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly lastSent = new Map<string, string>();
  private readonly pendingQuotas = new Map<string, KeyQuota>();
  private lastFullAt = 0;
  private knownMembers = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly opts: TrafficServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.stats = new LocalStats(this.now);
    this.health = new NodeHealthSampler(opts.inFlight, opts.rps);
    const self = this;
    this.view = new ClusterTrafficView(
      {
        get name() {
          return self.nodeName;
        },
        stats: () => this.stats.snapshot(),
        health: () => this.health.snapshot(),
      },
      this.now,
    );
    this.circuits = new CircuitBreakers({
      nodeName: () => this.nodeName,
      liveNodes: () => this.liveNodes(),
      now: this.now,
      ...opts.circuit,
      onChange: (c) =>
        opts.logger?.info(
          { provider: c.provider, key: c.key, model: c.model || undefined, reason: c.reason, by: c.by },
          c.state === 'closed'
            ? 'circuit closed'
            : c.reason === PROBING
              ? 'circuit probe sent'
              : 'circuit opened',
        ),
    });
    this.pacer = new QuotaPacer(this.view, { now: this.now });
    this.router = new AdaptiveKeyRouter({
      mode: (provider) => this.modes.get(provider) ?? opts.mode,
      stats: this.stats,
      view: this.view,
      circuits: this.circuits,
      pacer: this.pacer,
      now: this.now,
      random: opts.random,
      onQuota: (q) => this.quotaObserved(q),
    });
    if (opts.registry) registerTrafficMetrics(opts.registry, this.view, this.circuits);
  }

  /** Each provider's `network_config.routing`. */
  setModes(modes: Record<string, RoutingMode>): void {
    this.modes = new Map(Object.entries(modes));
  }

  get localName(): string {
    return this.nodeName;
  }

  attachCluster(cluster: ClusterLike): void {
    this.cluster = cluster;
    this.nodeName = cluster.localName;
    this.channel = cluster.channel(CHANNELS.trafficStats);
    this.channel.onMessage((buf, from) => {
      if (!from) return;
      const m = decodeTraffic(buf);
      if (m) this.view.apply(from, m);
    });
    this.channel.setLocalState(() => this.fullState());
    this.channel.onRemoteState((buf) => this.mergeState(buf));
    this.circuits.attach(cluster.channel(CHANNELS.circuits));
  }

  start(): void {
    this.health.start();
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.publishIntervalMs ?? 1000);
    this.timer.unref?.();
  }

  stop(): void {
    this.health.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: forget departed nodes, open circuits the cluster-wide stats condemn, publish our changes. */
  tick(): void {
    try {
      this.syncMembers();
      this.judgeCircuits();
      this.publish();
      this.stats.prune();
    } catch (e) {
      this.opts.logger?.warn({ err: (e as Error).message }, 'failed to broadcast');
    }
  }

  status(): TrafficStatus {
    const t = this.now();
    const keys: TrafficStatus['keys'] = this.view.allStats().map((s) => {
      const q = this.view.quota(s.provider, s.key);
      const judged = s.ok + hardErrors(s);
      return {
        provider: s.provider,
        key: s.key,
        model: s.model,
        routing: this.router.modeOf(s.provider),
        requests: s.requests,
        ok: s.ok,
        errors: {
          rate_limited: s.rateLimited,
          server_error: s.serverErrors,
          timeout: s.timeouts,
          connect: s.connectErrors,
          other: s.otherErrors,
        },
        error_rate: judged ? Math.round((hardErrors(s) / judged) * 1000) / 1000 : 0,
        latency_ms: { ewma: s.latencyMs, p50: s.p50Ms, p99: s.p99Ms },
        ttft_ms: s.ttftMs > 0 ? { ewma: s.ttftMs, p99: s.ttftP99Ms } : null,
        circuit: this.circuits.shownState(s.provider, s.key, s.model),
        weight_factor: Math.round(this.router.score(s.provider, s.key, s.model).factor * 1000) / 1000,
        quota: q?.requests
          ? {
              limit: q.requests.limit,
              remaining: q.requests.remaining,
              reset_at: new Date(q.requests.resetAt).toISOString(),
              retry_until: q.retryUntil && q.retryUntil > t ? new Date(q.retryUntil).toISOString() : null,
            }
          : null,
      };
    });
    return {
      routing: { default: this.opts.mode, providers: Object.fromEntries(this.modes) },
      window_seconds: WINDOW_SECONDS,
      keys,
      nodes: this.view.health().map(({ node, health: h, ageMs }) => ({
        name: node,
        cpu: h.cpu,
        rss_mb: h.rssMb,
        loop_lag_ms: h.loopLagMs,
        in_flight: h.inFlight,
        rps: h.rps,
        age_ms: ageMs,
      })),
    };
  }

  nodeHealth(node: string): NodeHealth | undefined {
    return this.view.nodeHealth(node);
  }

  /** A cool-down (429) goes out at once: every request another node sends meanwhile would be refused too. */
  private quotaObserved(q: KeyQuota): void {
    const id = keyId(q.provider, q.key);
    if (q.retryUntil !== undefined && this.channel) {
      try {
        for (const c of encodeTraffic({ stats: [], quotas: [q] })) this.channel.broadcast(c, `quota:${id}`);
        this.pendingQuotas.delete(id);
        return;
      } catch {
        // not started: the next tick sends it
      }
    }
    if (this.pendingQuotas.has(id) || this.pendingQuotas.size < 256) this.pendingQuotas.set(id, q);
  }

  private liveNodes(): string[] {
    if (!this.cluster) return [this.nodeName];
    return this.cluster
      .members()
      .filter((m) => (m.state === 'alive' || m.state === 'suspect') && (!m.tags || m.tags.http !== undefined))
      .map((m) => m.name);
  }

  private syncMembers(): void {
    if (!this.cluster) return;
    const now = new Set<string>();
    for (const m of this.cluster.members()) {
      if (m.state === 'dead' || m.state === 'left') this.view.forget(m.name);
      else now.add(m.name);
    }
    for (const n of now)
      if (!this.knownMembers.has(n)) {
        // A newcomer: send it everything on this round rather than in up to refreshMs.
        this.lastFullAt = 0;
        break;
      }
    this.knownMembers = now;
  }

  private judgeCircuits(): void {
    const rate = this.opts.openErrorRate ?? 0.5;
    const min = this.opts.openMinAttempts ?? 10;
    const t = this.now();
    for (const s of this.view.allStats()) {
      const bad = hardErrors(s);
      const n = s.ok + bad;
      if (n < min || bad / n < rate) continue;
      if (this.circuits.state(s.provider, s.key, s.model) !== 'closed') continue;
      // Stats from before the last close are what closed it: judge only a full window after it.
      if (t - this.circuits.closedAt(s.provider, s.key, s.model) < WINDOW_SECONDS * 1000) continue;
      this.circuits.openFromStats(
        s.provider,
        s.key,
        s.model,
        `cluster error rate ${Math.round((bad / n) * 100)}%`,
      );
    }
  }

  private publish(): void {
    if (!this.channel || !this.cluster) return;
    if (this.cluster.members().filter((m) => m.state === 'alive').length < 2) return;
    const t = this.now();
    const full = t - this.lastFullAt >= (this.opts.refreshMs ?? 10_000);
    if (full) this.lastFullAt = t;
    const msg: TrafficMessage = { health: this.health.snapshot(), stats: [], quotas: [] };
    const seen = new Set<string>();
    for (const s of this.stats.snapshot()) {
      const id = statsId(s.provider, s.key, s.model);
      seen.add(id);
      const wire = JSON.stringify(statsToTuple(s));
      const prev = this.lastSent.get(id);
      if (!full && prev === wire) continue;
      // An idle entry is sent once as zeros, then left out.
      if (s.requests === 0 && prev !== undefined && prev === wire) continue;
      this.lastSent.set(id, wire);
      msg.stats.push(s);
    }
    for (const id of this.lastSent.keys()) if (!seen.has(id)) this.lastSent.delete(id);
    if (full) for (const q of this.view.allQuotas()) this.pendingQuotas.set(keyId(q.provider, q.key), q);
    msg.quotas = [...this.pendingQuotas.values()].filter((q) => full || q.at > t - 60_000);
    this.pendingQuotas.clear();
    const chunks = encodeTraffic(msg);
    for (let i = 0; i < chunks.length; i++) this.channel.broadcast(chunks[i]!, `traffic:${i}`);
  }

  /** Push/pull: everything we measure, for a node that joins or repairs. */
  private fullState(): Buffer {
    const chunks = encodeTraffic({
      health: this.health.snapshot(),
      stats: this.stats.snapshot().filter((s) => s.requests > 0),
      quotas: this.view.allQuotas().slice(0, 256),
    });
    return Buffer.from(
      JSON.stringify({ n: this.nodeName, c: chunks.slice(0, 64).map((c) => c.toString('utf8')) }),
    );
  }

  private mergeState(buf: Buffer): void {
    if (buf.length > 256 * 1024) return;
    let raw: unknown;
    try {
      raw = JSON.parse(buf.toString('utf8'));
    } catch {
      return;
    }
    const r = stateSchema.safeParse(raw);
    if (!r.success) return;
    for (const item of r.data.c) {
      const m = decodeTraffic(Buffer.from(item));
      if (m) this.view.apply(r.data.n, m);
    }
  }
}
