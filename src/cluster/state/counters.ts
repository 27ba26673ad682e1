import { type Duration, windowEnd, windowStart } from '../../config/duration.js';
import type { Logger } from '../../observability/logger.js';
import type { UsageRow } from '../../store/types.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { DemandTracker } from './demand.js';
import { CHANNEL_COUNTERS, type ClusterLike, type GossipChannel } from './gossip.js';
import { PeerTracker } from './peers.js';
import {
  applyClaim,
  digestOf,
  fits,
  globalUsed,
  hasMajority,
  mayClaim,
  mergeSlot,
  planClaim,
  release,
  requiredPeers,
  type Slot,
  type Win,
} from './window.js';
import { toWire, WindowStore, wireSlot } from './windows.js';
import {
  decodeCounterMessage,
  encodeDigest,
  encodeMessages,
  type WireDigest,
  type WireMsg,
  type WireWin,
} from './wire.js';

/**
 * Cluster-wide windowed counters (rate limits, token limits, budgets) that
 * are counted locally on the request path: the scheduler around the
 * algorithm (window.ts, limiter.ts), the peer tracker (peers.ts), the gossip
 * queue (broadcast-queue.ts), the window store (windows.ts), demand (demand.ts)
 * and the wire codec (wire.ts). See docs/design-limits.md.
 *
 * Traffic per node is bounded by the cluster's rate of slot changes, not by N²:
 *  - a claim goes straight to every peer and each answers with its copy of our
 *    slot (the echo the claim rule waits for);
 *  - every other change of a slot (used, asked, demand, releases) is coalesced per
 *    tick and gossiped to k = ⌈log2 N⌉+1 random peers, which forward what is new
 *    to them once (when k does not already cover everyone);
 *  - a slow anti-entropy digest to one random peer repairs what loss dropped;
 *  - who is alive comes from membership (suspect or dead = unreachable); there is
 *    no heartbeat and no failure detector of our own.
 * A tick visits only the windows in use (own use, a pending claim, a peer's change).
 */

export interface CounterSpec {
  /** Counter identity, e.g. "vk:team-a:req". */
  key: string;
  limit: number;
  duration: Duration;
  /** Amounts are whole units (requests): shares of the limit are apportioned in whole units. */
  integer?: boolean;
}

/** One counter a request needs, and how much of it. */
export interface CounterClaim {
  spec: CounterSpec;
  /** Requests: 1. Tokens and budgets: the reservation (an estimate; 0 = admit while not used up). */
  amount: number;
  /** Charged at admission (requests); otherwise held until settled with the real amount. */
  consume?: boolean;
  /**
   * `amount` is a guess (a running average), not a bound: admit while any room is left and hold at most
   * what is left, so sequential requests run up to the limit and concurrent ones still cannot pass it.
   */
  upTo?: boolean;
}

/** The limiter's one answer for a request: every counter it needs, checked together. */
export interface AdmissionResult {
  ok: boolean;
  /** One decision per claim, in order. */
  decisions: CounterDecision[];
  /** Index of the first claim that refused, or -1. */
  refused: number;
  /** Charges what was really used per claim (undefined: nothing) and frees the reservations. Idempotent. */
  settle(actual: (number | undefined)[]): void;
}

export interface CounterDecision {
  ok: boolean;
  limit: number;
  /** Cluster-wide estimate of what is left in this window. */
  remaining: number;
  /** End of the current window (ms since epoch). */
  resetAt: number;
  /** What the cluster has left (others' unused claims included): a refusal with room left is retried soon. */
  clusterRemaining: number;
}

export interface CountersOptions {
  nodeName?: string;
  logger?: Logger;
  now?: () => number;
  /** Tick period while counters are in use: claims, gossip of changed slots. */
  flushIntervalMs?: number;
  /** Start timers (false in deterministic tests, which call tick()). */
  timers?: boolean;
  /** A majority side stops waiting for an unreachable peer after this long. */
  reclaimAfterMs?: number;
  /** An unreachable peer's reservation is dropped after this long (majority side only). */
  forgetAfterMs?: number;
  /** Fraction of the computed share actually claimed when peers exist (margin for demand views that differ). */
  safety?: number;
  /** Seconds of demand a claim tries to cover. */
  needHorizonS?: number;
}

/** Counters stay on the fast tick this long after the last request that used them. */
const BUSY_AFTER_USE_MS = 2000;
/** Tick period when nothing is in use (anti-entropy, membership changes). */
const IDLE_TICK_MS = 250;
/** A claim not echoed by every required peer after one tick is sent again to those that did not answer (at N peers and 1% loss most claims miss an echo or two). */
const REASK_MS = 50;
/** Windows older than this past their end are dropped (they stay for late merges and the store). */
const KEEP_AFTER_END_MS = 10 * 60_000;
const GC_EVERY_MS = 5000;
/** Anti-entropy: one digest to one random peer every max(1 s, N × 20 ms), so its bytes per second stay bounded. */
const AE_MIN_MS = 1000;
const AE_PER_NODE_MS = 20;
/**
 * Our slot's used/asked/demand changes are gossiped at most every max(tick, N × 5 ms): the cluster
 * as a whole then puts at most ~200 slot changes a second into gossip, whatever its size, and the
 * bytes per node grow with the fan-out (log N) only. Claims and releases do not wait.
 */
const OWN_GOSSIP_PER_NODE_MS = 5;
/** A peer membership no longer lists is forgotten after this long. */
const UNLISTED_GRACE_MS = 1000;
/** Membership's view is read at most this often on the request path (every tick reads it anyway). */
const REFRESH_MIN_MS = 10;

type SendKind = 'claim' | 'echo' | 'release' | 'gossip' | 'digest' | 'full' | 'hello';

/** Gossip fan-out per tick: ⌈log2 N⌉ + 1 peers. */
export function fanout(clusterSize: number): number {
  return Math.ceil(Math.log2(Math.max(2, clusterSize))) + 1;
}

export class DistributedCounters {
  private nodeName: string;
  private readonly now: () => number;
  private readonly o: Required<Omit<CountersOptions, 'nodeName' | 'logger' | 'now' | 'timers'>>;
  private readonly wins: WindowStore;
  /** Windows the tick visits: own use in the last 2 s, a claim waiting for echoes, a peer's change. */
  private readonly live = new Set<Win>();
  /** Windows whose own slot changed since the last gossip. */
  private readonly ownDirty = new Set<Win>();
  private readonly claimsToSend = new Set<Win>();
  /** Windows changed recently (the anti-entropy digest covers these). */
  private readonly recent = new Set<Win>();
  private readonly demand: DemandTracker;
  /** Last known demand and next-claim bound per counter key per node. */
  private readonly peerDemand = new Map<string, Map<string, { d: number; nx: number }>>();
  private readonly peers = new PeerTracker({ unlistedGraceMs: UNLISTED_GRACE_MS });
  private readonly queue = new BroadcastQueue();
  private cluster: ClusterLike | undefined;
  private channel: GossipChannel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private verBase: number;
  private readonly startedAt: number;
  private lastUseAt = Number.NEGATIVE_INFINITY;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private lastGcAt: number;
  private nextAeAt: number;
  private nextTickAt = 0;
  private closed = false;
  private seed: number;
  private readonly logger: Logger | undefined;
  /** Messages sent / received, for tests and metrics. */
  readonly stats_ = {
    sent: 0,
    received: 0,
    bytesSent: 0,
    /** Bytes sent per kind of message. */
    bytesBy: { claim: 0, echo: 0, release: 0, gossip: 0, digest: 0, full: 0, hello: 0 } as Record<
      SendKind,
      number
    >,
  };

  constructor(opts: CountersOptions = {}) {
    this.nodeName = opts.nodeName ?? 'local';
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    this.o = {
      flushIntervalMs: opts.flushIntervalMs ?? 50,
      reclaimAfterMs: opts.reclaimAfterMs ?? 500,
      forgetAfterMs: opts.forgetAfterMs ?? 120_000,
      safety: opts.safety ?? 0.95,
      needHorizonS: opts.needHorizonS ?? 0.25,
    };
    // Versions of our own slots start above anything an earlier process with our name wrote.
    this.verBase = this.now() * 1000;
    this.wins = new WindowStore(() => this.verBase++);
    this.startedAt = this.now();
    this.demand = new DemandTracker(this.now());
    this.lastGcAt = this.now();
    this.nextAeAt = this.now() + AE_MIN_MS;
    this.seed = hashName(this.nodeName) ^ this.startedAt;
    if (opts.timers !== false) this.scheduleTick(this.o.flushIntervalMs);
  }

  /** Seeded (mulberry32): deterministic runs in the simulator. */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Ticks every flushIntervalMs while counters are in use or have something to send, else 4 times a second. */
  private scheduleTick(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextTickAt = this.now() + ms;
    this.timer = setTimeout(() => {
      try {
        this.tick();
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'counter flush failed');
      }
      this.scheduleTick(this.busy() ? this.o.flushIntervalMs : IDLE_TICK_MS);
    }, ms);
    this.timer.unref();
  }

  /** Brings the next tick forward when the counters just became busy. */
  private wake(): void {
    if (this.timer && this.nextTickAt - this.now() > this.o.flushIntervalMs)
      this.scheduleTick(this.o.flushIntervalMs);
  }

  private busy(): boolean {
    if (this.now() - this.lastUseAt < BUSY_AFTER_USE_MS) return true;
    return this.live.size > 0 || this.ownDirty.size > 0 || this.claimsToSend.size > 0 || this.queue.size > 0;
  }

  /** How many windows the tick visits (in use, waiting for echoes, or changed by a peer): tests, metrics. */
  get liveWindows(): number {
    return this.live.size;
  }

  get localName(): string {
    return this.nodeName;
  }

  /** Plugs in the gossip layer. Works before, after, or without it. */
  attachCluster(cluster: ClusterLike): void {
    this.cluster = cluster;
    const old = this.nodeName;
    this.nodeName = cluster.localName;
    if (old !== this.nodeName) this.wins.rename(old, this.nodeName);
    this.channel = cluster.channel(CHANNEL_COUNTERS);
    this.channel.onMessage((payload, from) => this.receive(payload, from));
    this.channel.setLocalState(() => this.encodeState());
    this.channel.onRemoteState((buf) => this.receive(buf, undefined, true));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---------------------------------------------------------------- request path

  /**
   * Checks every counter a request needs in one call: all admit, or none is charged. Consumed claims
   * (requests) are charged now; the others are reserved within this node's claimed cap until settled.
   */
  admit(claims: readonly CounterClaim[]): AdmissionResult {
    const now = this.now();
    this.noteUse(now);
    const wins: Win[] = [];
    let refused = -1;
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i]!;
      const w = this.win(c.spec, now);
      wins.push(w);
      const amount = Math.max(0, c.amount);
      this.demand.noteAttempt(c.spec.key);
      w.active = true;
      this.touch(w, now);
      const own = this.own(w);
      own.a += amount > 0 ? amount : this.demand.avgAmount(c.spec.key);
      own.ver++;
      this.ownChange(w, now);
      if (refused >= 0) continue;
      const need = c.upTo ? 0 : amount;
      if (!fits(w, own, amount)) this.claim(w, now, Math.max(amount, this.demand.avgAmount(c.spec.key)));
      if (!fits(w, own, need)) refused = i;
    }
    const ok = refused < 0;
    const held: number[] = [];
    if (ok) {
      for (let i = 0; i < claims.length; i++) {
        const c = claims[i]!;
        const w = wins[i]!;
        const own = this.own(w);
        const room = Math.max(0, Math.min(own.cap, w.limit) - own.used - w.held);
        const amount = c.upTo ? Math.min(Math.max(0, c.amount), room) : Math.max(0, c.amount);
        held.push(c.consume ? 0 : amount);
        if (c.consume) {
          if (amount > 0) this.charge(w, c.spec.key, amount);
        } else w.held += amount;
      }
    }
    const decisions = wins.map((w, i) => this.decision(w, ok || i < refused));
    let settled = !ok;
    return {
      ok,
      decisions,
      refused,
      settle: (actual) => {
        if (settled) return;
        settled = true;
        this.noteUse(this.now());
        for (let i = 0; i < claims.length; i++) {
          const w = wins[i]!;
          w.held = Math.max(0, w.held - held[i]!);
          const a = actual[i];
          if (!claims[i]!.consume && a !== undefined && Number.isFinite(a) && a > 0)
            this.charge(w, claims[i]!.spec.key, a);
        }
      },
    };
  }

  private charge(w: Win, key: string, amount: number): void {
    const own = this.own(w);
    own.used += amount;
    own.ver++;
    const now = this.now();
    this.touch(w, now);
    this.ownChange(w, now);
    this.demand.noteAmount(key, amount);
  }

  /** Consumes `amount` when the node's claimed share allows it (request counters, rpm). */
  acquire(spec: CounterSpec, amount = 1): CounterDecision {
    return this.admit([{ spec, amount, consume: true }]).decisions[0]!;
  }

  /** Admits while the node's claimed share is not used up, without consuming (token limits, budgets). */
  check(spec: CounterSpec): CounterDecision {
    return this.admit([{ spec, amount: 0 }]).decisions[0]!;
  }

  /** Charges `amount` once known (settle); may pass the cap by what one request used. */
  add(spec: CounterSpec, amount: number): CounterDecision {
    const now = this.now();
    this.noteUse(now);
    const w = this.win(spec, now);
    if (amount > 0) this.charge(w, spec.key, amount);
    return this.decision(w, true);
  }

  /** Current state without counting an attempt. */
  peek(spec: CounterSpec): CounterDecision {
    const w = this.win(spec, this.now());
    return this.decision(w, fits(w, this.own(w), 0));
  }

  /** Cluster-wide used estimate for the current window. */
  used(spec: CounterSpec): number {
    return globalUsed(this.win(spec, this.now()));
  }

  /** A refusal reports nothing remaining: what is left belongs to other nodes' claims until they release it. */
  private decision(w: Win, ok: boolean): CounterDecision {
    const left = Math.max(0, w.limit - globalUsed(w) - w.held);
    return { ok, limit: w.limit, remaining: ok ? left : 0, resetAt: w.we, clusterRemaining: left };
  }

  private noteUse(now: number): void {
    if (now - this.lastUseAt >= BUSY_AFTER_USE_MS) {
      this.lastUseAt = now;
      this.wake();
    } else this.lastUseAt = now;
  }

  // ---------------------------------------------------------------- windows and slots

  private win(spec: CounterSpec, now: number): Win {
    const ws = windowStart(spec.duration, now);
    const w = this.getWin(spec.key, ws, windowEnd(spec.duration, ws), spec.limit);
    w.limit = spec.limit;
    w.integer = spec.integer === true;
    w.prevWs ??= windowStart(spec.duration, ws - 1);
    return w;
  }

  private getWin(key: string, ws: number, we: number, limit: number): Win {
    return this.wins.getOrCreate(key, ws, we, limit, this.nodeName);
  }

  private dropWin(w: Win): void {
    this.wins.drop(w);
    this.live.delete(w);
    this.ownDirty.delete(w);
    this.claimsToSend.delete(w);
    this.recent.delete(w);
  }

  private own(w: Win): Slot {
    let s = w.slots.get(this.nodeName);
    if (!s) {
      const st = this.demand.get(w.key);
      s = { used: 0, cap: 0, ver: this.verBase++, d: st.published, nx: this.nextBound(w.key, w.limit), a: 0 };
      w.slots.set(this.nodeName, s);
    }
    return s;
  }

  private touch(w: Win, now: number): void {
    w.touchedAt = now;
    this.live.add(w);
  }

  private changed(w: Win, now: number): void {
    w.changedAt = now;
    this.recent.add(w);
  }

  private ownChange(w: Win, now: number): void {
    w.ownChanged = true;
    this.ownDirty.add(w);
    this.changed(w, now);
  }

  // ---------------------------------------------------------------- peers

  /** Applies membership's view of who is alive (at most every REFRESH_MIN_MS unless forced). */
  private refreshPeers(now: number, force = false): void {
    if (!this.cluster) return;
    if (!force && now - this.lastRefreshAt < REFRESH_MIN_MS) return;
    this.lastRefreshAt = now;
    const ch = this.peers.refresh(this.nodeName, this.cluster.members(), now);
    // A member new to us says hello (if it is new to the cluster or restarted, it answers with its
    // state and we with ours); one reachable again gets our whole state (a healed partition).
    for (const name of ch.added) this.sendTo(name, encodeMessages(this.head(), []), 'hello');
    for (const name of ch.back) this.sendFull(name);
    // Forget: nodes that left (their unused caps are released), nodes the membership layer dropped,
    // and, on a majority side only, nodes unreachable for forgetAfterMs.
    const majority = hasMajority(this.nodeName, this.peers.all());
    for (const p of this.peers.toForget(now, majority ? this.o.forgetAfterMs : undefined)) {
      this.peers.forget(p.name);
      for (const w of this.wins.values()) {
        const s = w.slots.get(p.name);
        if (s) s.cap = s.used; // its admitted count stays; its unused claim returns to the pool
        w.echoes.delete(p.name);
      }
    }
  }

  /** Known peers that have not left. */
  private members() {
    return this.peers.all().filter((p) => p.state !== 'left');
  }

  // ---------------------------------------------------------------- claims

  /** Demand share of `node` among us and every known peer, from published demand. */
  private share(key: string, node: string): number {
    const own = this.demand.get(key).published;
    const dm = this.peerDemand.get(key);
    let sum = own;
    let n = 1;
    let mine = node === this.nodeName ? own : 0;
    for (const p of this.peers.all()) {
      const d = dm?.get(p.name)?.d ?? 0;
      sum += d;
      n++;
      if (p.name === node) mine = d;
    }
    const eps = 1e-3 + (0.05 * sum) / n;
    return (mine + eps) / (sum + eps * n);
  }

  /**
   * Our announced bound for our next claim on `key`: about 0.5 s of our demand, and at least 10% of the
   * limit so a burst is served in a few claim rounds. A peer that loses us keeps this much reserved.
   */
  private nextBound(key: string, limit: number): number {
    return Math.max(this.need(key, 1) * 2, Number.isFinite(limit) ? limit * 0.1 : 0);
  }

  /** Expected use over the next needHorizonS. */
  private need(key: string, want: number): number {
    return this.demand.need(key, want, this.now(), this.o.needHorizonS);
  }

  /** Tries to raise our cap on `w`; returns true when it did. */
  private claim(w: Win, now: number, want: number, ahead = false): boolean {
    if (now >= w.we || w.claimUnsent) return false;
    this.refreshPeers(now);
    const peers = this.members();
    const required = requiredPeers(this.nodeName, this.peers.all(), now, this.o.reclaimAfterMs);
    if (!mayClaim(w, required, this.startedAt)) return false;
    const own = this.own(w);
    const prev = w.prevWs === undefined ? undefined : this.wins.get(w.key, w.prevWs);
    const { amount, beyondShare } = planClaim(w, own, {
      self: this.nodeName,
      peers: this.peers.size === 0 ? [] : peers,
      required,
      want,
      ahead,
      now,
      prev,
      avgAmount: this.demand.avgAmount(w.key),
      shareOf: (node) => this.share(w.key, node),
    });
    if (amount <= 1e-9) return false;
    const hasPeers = this.peers.size > 0;
    applyClaim(w, own, amount, hasPeers);
    this.ownChange(w, now);
    if (hasPeers) {
      this.live.add(w);
      // Taken from an idle peer's share: tell everyone now, not at the next tick, to keep the window in
      // which it could be asked and claim the same units as short as the network's latency.
      if (beyondShare) this.sendClaim(w, now);
      else this.claimsToSend.add(w);
    }
    return true;
  }

  /** Sends our slot of `w` as a claim (every receiver echoes it) to `targets` (default: every peer). */
  private sendClaim(w: Win, now: number, targets?: string[]): void {
    this.claimsToSend.delete(w);
    w.claimUnsent = false;
    w.lastSentAt = now;
    const own = w.slots.get(this.nodeName);
    if (!this.channel || !own) return;
    const payload = encodeMessages(this.head(), [[w.key, w.ws, w.we, 1, [wireSlot(this.nodeName, own)]]]);
    if (!targets) {
      // Everyone gets the latest own slot: no separate gossip of it needed.
      w.sentA = own.a;
      w.ownChanged = false;
      w.urgent = false;
      w.gossipedAt = now;
      this.ownDirty.delete(w);
      this.queue.remove(w.id, this.nodeName);
    }
    for (const name of targets ?? this.peers.sendable().map((p) => p.name))
      this.sendTo(name, payload, 'claim');
  }

  /** Lowers our cap to what we need when peers are asking for more; always safe. */
  private maybeRelease(w: Win, now: number): void {
    const own = w.slots.get(this.nodeName);
    if (!own || this.peers.size === 0) return;
    const exact = own.used + w.held + this.need(w.key, 1) * 4;
    const keep = w.integer ? Math.ceil(exact - 1e-9) : exact;
    const dm = this.peerDemand.get(w.key);
    if (!release(w, this.nodeName, keep, (node) => dm?.get(node)?.d ?? 0)) return;
    this.ownChange(w, now);
    // Released units are what a short peer is waiting for: everyone learns at once, not hop by hop.
    if (!this.channel) return;
    const payload = encodeMessages(this.head(), [[w.key, w.ws, w.we, 0, [wireSlot(this.nodeName, own)]]]);
    w.sentA = own.a;
    w.ownChanged = false;
    w.urgent = false;
    w.gossipedAt = now;
    this.ownDirty.delete(w);
    this.queue.remove(w.id, this.nodeName);
    for (const p of this.peers.sendable()) this.sendTo(p.name, payload, 'release');
  }

  // ---------------------------------------------------------------- periodic work

  /** Refreshes peers and demand, claims ahead of need, gossips changes, repairs, collects old windows. */
  tick(): void {
    const now = this.now();
    this.refreshPeers(now, true);
    for (const key of this.demand.update(now)) {
      const published = this.demand.get(key).published;
      for (const w of this.wins.ofKey(key)) {
        if (now >= w.we) continue;
        const s = w.slots.get(this.nodeName);
        if (!s) continue;
        s.d = published;
        s.nx = Math.max(s.nx, this.nextBound(key, w.limit)); // monotone: a peer holding any version reserves enough
        s.ver++;
        this.ownChange(w, now);
      }
    }
    const required = requiredPeers(this.nodeName, this.peers.all(), now, this.o.reclaimAfterMs);
    for (const w of this.live) {
      if (now >= w.we) {
        this.live.delete(w);
        continue;
      }
      const inUse = now - w.touchedAt < BUSY_AFTER_USE_MS;
      if (w.active && inUse) {
        const own = this.own(w);
        const left = Math.min(own.cap, w.limit) - own.used;
        if (left < this.need(w.key, 1)) this.claim(w, now, 1, true);
        else this.maybeRelease(w, now);
      } else this.maybeRelease(w, now);
      // Waiting for echoes too long (a lost datagram): ask those that did not answer again.
      let waiting = false;
      if (w.lastClaimVer > 0 && !w.claimUnsent) {
        const missing = required
          .filter((p) => (w.echoes.get(p.name) ?? 0) < w.lastClaimVer)
          .map((p) => p.name);
        waiting = missing.length > 0;
        if (waiting && now - w.lastSentAt >= REASK_MS) this.sendClaim(w, now, missing);
      }
      if (!inUse && !waiting && !w.claimUnsent) this.live.delete(w);
    }
    this.flush(now);
    if (now - this.lastGcAt >= GC_EVERY_MS) {
      this.lastGcAt = now;
      for (const w of [...this.wins.values()]) if (now > w.we + KEEP_AFTER_END_MS) this.dropWin(w);
    }
  }

  private flush(now: number): void {
    if (!this.channel) {
      for (const w of this.claimsToSend) w.claimUnsent = false;
      this.claimsToSend.clear();
      for (const w of this.ownDirty) w.ownChanged = false;
      this.ownDirty.clear();
      this.queue.clear();
      return;
    }
    for (const w of this.claimsToSend) this.sendClaim(w, now);
    const sendable = this.peers.sendable().length;
    const k = Math.min(sendable, fanout(sendable + 1));
    const every = Math.max(this.o.flushIntervalMs, OWN_GOSSIP_PER_NODE_MS * (sendable + 1));
    for (const w of this.ownDirty) {
      if (!w.ownChanged) {
        this.ownDirty.delete(w);
        continue;
      }
      // An ended window's last change goes at once: it is the demand history of the next window.
      if (!w.urgent && now - w.gossipedAt < every - 1 && now < w.we) continue;
      w.ownChanged = false;
      w.urgent = false;
      w.gossipedAt = now;
      w.sentA = w.slots.get(this.nodeName)?.a ?? 0;
      this.queue.enqueue(w.id, this.nodeName, undefined, k);
      this.ownDirty.delete(w);
    }
    this.gossip(k);
    this.antiEntropy(now, sendable);
  }

  /** One gossip round: the queued slots to k random peers. */
  private gossip(k: number): void {
    if (this.queue.size === 0) return;
    for (const target of this.peers.pick(k, () => this.random())) {
      const byWin = new Map<string, WireWin>();
      for (const it of this.queue.forTarget(target.name)) {
        const w = this.wins.byId(it.winId);
        const s = w?.slots.get(it.node);
        if (!w || !s) continue;
        let e = byWin.get(w.id);
        if (!e) {
          e = [w.key, w.ws, w.we, 0, []];
          byWin.set(w.id, e);
        }
        e[4].push(wireSlot(it.node, s));
      }
      if (byWin.size > 0)
        this.sendTo(target.name, encodeMessages({ ...this.head(), r: 1 }, [...byWin.values()]), 'gossip');
    }
    this.queue.endTick();
  }

  /** Sends a digest of the recently changed windows to one random peer, at a pace that shrinks with N. */
  private antiEntropy(now: number, sendable: number): void {
    if (now < this.nextAeAt || sendable === 0) return;
    const period = Math.max(AE_MIN_MS, AE_PER_NODE_MS * (sendable + 1));
    this.nextAeAt = now + period * (0.5 + this.random());
    const digest: WireDigest[] = [];
    for (const w of this.recent) {
      if (w.changedAt < now - 3 * period || now > w.we + 60_000) {
        this.recent.delete(w);
        continue;
      }
      digest.push([w.key, w.ws, w.we, digestOf(w)]);
    }
    if (digest.length === 0) return;
    const [target] = this.peers.pick(1, () => this.random());
    if (target) this.sendTo(target.name, encodeDigest(this.head(), digest), 'digest');
  }

  private head(): { n: string; h: number } {
    return { n: this.nodeName, h: this.startedAt };
  }

  /** Sends our whole state to one peer (it just (re)started, or is reachable again). */
  private sendFull(peer: string): void {
    const now = this.now();
    this.sendTo(peer, encodeMessages(this.head(), this.wins.fullState(now, 60_000), true), 'full');
  }

  private sendTo(peer: string, payloads: Buffer[], kind: SendKind): void {
    const ch = this.channel;
    if (!ch) return;
    for (const payload of payloads) {
      this.stats_.sent++;
      this.stats_.bytesSent += payload.length;
      this.stats_.bytesBy[kind] += payload.length;
      try {
        const r = ch.sendTo(peer, payload);
        if (r && typeof (r as Promise<void>).catch === 'function')
          (r as Promise<void>).catch(() => undefined);
      } catch {
        /* best effort: the next change, re-ask or anti-entropy repairs it */
      }
    }
  }

  private encodeState(): Buffer {
    const now = this.now();
    const w = this.wins.fullState(now, 60_000);
    return Buffer.from(JSON.stringify({ ...this.head(), f: 1, w } satisfies WireMsg));
  }

  // ---------------------------------------------------------------- receive

  /** Merges a peer's message or push/pull state. Public for tests and for the gossip adapter. */
  receive(payload: Buffer, fromHint: string | undefined, fullState = false): void {
    const msg = decodeCounterMessage(payload);
    if (!msg) return;
    const from = msg.n || fromHint;
    if (!from || from === this.nodeName) return;
    this.stats_.received++;
    const now = this.now();
    const { peer, restarted } = this.peers.heard(from, msg.h, now);
    // Forward what is new to us only when the origin's fan-out could not reach everyone itself.
    const sendable = this.peers.sendable().length;
    const k = Math.min(sendable, fanout(sendable + 1));
    const relay = msg.r === 1 && sendable > k;
    const acks: WireWin[] = [];
    for (const [key, ws, we, ackReq, slots] of msg.w) {
      if (now > we + KEEP_AFTER_END_MS) continue;
      const w = this.getWin(key, ws, we, Number.POSITIVE_INFINITY);
      let any = false;
      for (const [node, used, cap, ver, d, nx, a] of slots) {
        if (node === this.nodeName) this.own(w);
        const r = mergeSlot(w, this.nodeName, from, node, { used, cap, ver, d, nx, a: a ?? 0 });
        if (r.ownBumped) {
          w.urgent = true;
          this.ownChange(w, now);
        }
        if (r.changed) {
          any = true;
          if (relay) this.queue.enqueue(w.id, node, from, k);
        }
        if (r.latest) {
          let dm = this.peerDemand.get(w.key);
          if (!dm) {
            dm = new Map();
            this.peerDemand.set(w.key, dm);
          }
          dm.set(node, { d, nx });
        }
      }
      if (any) {
        this.changed(w, now);
        // We may hold more than we need while this peer runs short: the tick checks for a release.
        if (w.slots.has(this.nodeName) && now < w.we) this.live.add(w);
      }
      if (ackReq === 1) {
        const s = w.slots.get(from);
        if (s) acks.push([key, ws, we, 0, [wireSlot(from, s)]]);
      }
    }
    if (acks.length > 0) this.sendTo(from, encodeMessages(this.head(), acks), 'echo');
    if (msg.g) this.answerDigest(from, msg.g, now);
    if (msg.q) this.answerWant(from, msg.q);
    if (fullState || msg.f === 1) peer.synced = true;
    // A peer that (re)started, or that we never heard from: give it everything we know (it may hold old
    // claims). Not after push/pull, which already gave it our state.
    if (restarted && !fullState) this.sendFull(from);
    if (acks.length > 0 || this.live.size > 0) this.wake();
  }

  /** A peer's digest: send it the windows that differ and ask for its copy of those (and of the ones we lack). */
  private answerDigest(from: string, digest: WireDigest[], now: number): void {
    const entries: WireWin[] = [];
    const want: [string, number][] = [];
    for (const [key, ws, we, hash] of digest) {
      if (now > we + 60_000) continue;
      const w = this.wins.get(key, ws);
      if (w && digestOf(w) === hash) continue;
      if (w) entries.push(toWire(w));
      want.push([key, ws]);
    }
    if (entries.length > 0) this.sendTo(from, encodeMessages(this.head(), entries), 'digest');
    if (want.length > 0) this.sendTo(from, encodeDigest(this.head(), [], want), 'digest');
  }

  private answerWant(from: string, want: [string, number][]): void {
    const entries: WireWin[] = [];
    for (const [key, ws] of want) {
      const w = this.wins.get(key, ws);
      if (w) entries.push(toWire(w));
    }
    if (entries.length > 0) this.sendTo(from, encodeMessages(this.head(), entries), 'digest');
  }

  // ---------------------------------------------------------------- persistence

  /** Usage slots of windows at least `minDurationMs` long, for the store. */
  usageRows(minDurationMs: number): UsageRow[] {
    return this.wins.usageRows(minDurationMs);
  }

  /** Merges persisted usage (taken as both used and claimed: it is spent). */
  restoreUsage(rows: UsageRow[]): void {
    for (const r of rows) {
      const w = this.wins.get(r.counter, r.windowStart);
      if (w) {
        const node = r.node;
        const s = w.slots.get(node);
        if (node === this.nodeName) {
          const own = this.own(w);
          if (r.value > own.used) {
            own.used = r.value;
            own.cap = Math.max(own.cap, r.value);
            own.ver++;
            this.ownChange(w, this.now());
          }
        } else if (!s) w.slots.set(node, { used: r.value, cap: r.value, ver: 0, d: 0, nx: 0, a: r.value });
        else if (r.value > s.used) {
          s.used = r.value;
          s.cap = Math.max(s.cap, r.value);
        }
        continue;
      }
      this.wins.keepRestored(r);
    }
  }

  /** Debug view of one counter's current window. */
  inspect(spec: CounterSpec): { slots: Record<string, Slot>; limit: number } {
    const w = this.win(spec, this.now());
    return { slots: Object.fromEntries([...w.slots].map(([k, v]) => [k, { ...v }])), limit: w.limit };
  }
}

function hashName(s: string): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193);
  return x | 0;
}
