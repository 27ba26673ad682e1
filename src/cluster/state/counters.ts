import { type Duration, windowEnd, windowStart } from '../../config/duration.js';
import type { Logger } from '../../observability/logger.js';
import type { UsageRow } from '../../store/types.js';
import { DemandStats, type KeyDemand } from './demand.js';
import { CHANNEL_COUNTERS, type ClusterLike } from './gossip.js';
import { claimAmount, type SlotView } from './limiter.js';
import { CounterLink } from './link.js';
import { type Peer, PeerTracker } from './peers.js';
import { TickLoop } from './tick-loop.js';
import {
  elapsedFraction,
  fits,
  globalUsed,
  mergePeerSlot,
  newWindow,
  type Slot,
  toWire,
  usableCap,
  type Win,
  windowId,
} from './window.js';
import { decodeCounterMessage, type WireWin } from './wire.js';

/**
 * Cluster-wide windowed counters (rate limits, token limits, budgets) that
 * are counted locally on the request path. See docs/design-limits.md.
 *
 * Per (counter, window) every node owns one slot {used, cap, ver, demand}:
 *  - `used` only grows (a G-counter: merge = max), so what a node admitted is
 *    never forgotten, even when it is killed;
 *  - `cap` is the part of the limit the node has CLAIMED; it admits only
 *    while used < cap. Σ caps ≤ limit is the safety invariant;
 *  - a node claims `f × pool` where pool = limit − Σ max(cap, used) of every
 *    slot it knows and f its share of the published demand, and may claim
 *    again on that window only after every required peer has echoed its
 *    previous claim (so at most one claim per node is ever unseen, and
 *    concurrent claims come out of disjoint fractions of the pool);
 *  - a node releases (lowers its cap towards what it needs) when peers want
 *    more; releasing is always safe.
 * Peers that stop answering stop being "required" only while this node sees a
 * strict majority of the cluster: a minority side keeps its current caps and
 * never takes the whole limit a second time (peers.ts tracks them; limiter.ts
 * is the claim rule; wire.ts the codec).
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
  /**
   * This node is confirming a claim on idle peers' shares: asking again once it is confirmed (a
   * round trip, see `claimsSettled`) may be admitted.
   */
  pending: boolean;
}

export interface CountersOptions {
  nodeName?: string;
  logger?: Logger;
  now?: () => number;
  /** How often changed counters are sent to peers. */
  flushIntervalMs?: number;
  /** Start timers (false in deterministic tests, which call tick()). */
  timers?: boolean;
  /** A peer silent this long counts as unreachable. */
  unresponsiveMs?: number;
  /** A majority side stops waiting for an unreachable peer after this long. */
  reclaimAfterMs?: number;
  /** An unreachable peer's reservation is dropped after this long (majority side only). */
  forgetAfterMs?: number;
  /** Fraction of the computed share actually claimed when peers exist (margin for demand views that differ). */
  safety?: number;
  /** Seconds of demand a claim tries to cover. */
  needHorizonS?: number;
}

/**
 * Echo requests of one peer answered at once at most this often: a peer (or a forged sender) asking
 * faster gets its echoes at our next flush instead, so replies never outpace the flush rate by more
 * than this.
 */
const ECHO_GAP_MS = 5;

/** How long a request refused while a borrowed claim is confirmed waits before asking again (ms). */
export const CLAIM_CONFIRM_WAIT_MS = 250;
/**
 * A claim still missing an echo is asked again after this long (a lost datagram): the node claims
 * nothing more in that window until every required peer has echoed, and only echoes confirm a claim.
 */
const REASK_MS = 40;

/**
 * A peer cut off from us may learn of the cut later than we do (an idle node asks nobody, and its
 * failure detector probes at its own pace): until it does, it may claim its share in a window that
 * starts after we marked it unreachable. Windows starting this soon after still reserve that share.
 * It bounds that lag by one probe round (interval + timeout, LAN timings). It is not longer because a
 * killed node looks the same: after a crash, a window starting within it loses the dead node's share
 * (5 s cost 72% of the window after a kill in bench/limits-accuracy).
 */
const MINORITY_DETECT_SLACK_MS = 2000;
/**
 * A window whose only change is what it counts goes to every peer at most every (peers × this) ms,
 * and never more often than the flush: 50 ms up to 17 peers, 0.3 s at 100, 1.5 s at 500. A node's
 * counter traffic then stays bounded as the cluster grows, instead of growing with every peer.
 */
const MINOR_GAP_PER_PEER_MS = 3;
/** Ended windows are looked for this often (they are kept 10 minutes after their end). */
const SWEEP_EVERY_MS = 10_000;
/** The tick's pace while no counter is in use (local work only: an idle node sends nothing). */
const IDLE_TICK_MS = 250;
/** A peer's request for our full state is answered at most this often. */
const FULL_STATE_GAP_MS = 1000;
/** Counters stay on the fast tick this long after the last request that used them. */
const BUSY_AFTER_USE_MS = 2000;

export class DistributedCounters {
  private nodeName: string;
  private readonly now: () => number;
  private readonly o: Required<Omit<CountersOptions, 'nodeName' | 'logger' | 'now' | 'timers'>>;
  private readonly wins = new Map<string, Win>();
  /**
   * The windows the tick and the flush look at: ours while they are open (we hold a slot), and any
   * with something to send or a borrow to confirm. Every other window (a peer's key, a window that
   * ended) only waits for the sweep, so per-tick work follows the keys in use here, not all keys.
   */
  private readonly live = new Set<Win>();
  private lastSweepAt = Number.NEGATIVE_INFINITY;
  private readonly stats = new DemandStats();
  /** Last known demand and next-claim bound per counter key per node. */
  private readonly demand = new Map<string, Map<string, { d: number; nx: number }>>();
  private readonly peers: PeerTracker;
  private readonly restored = new Map<string, Map<string, number>>();
  private cluster: ClusterLike | undefined;
  private readonly link: CounterLink;
  private readonly loop: TickLoop;
  private verBase: number;
  private readonly startedAt: number;
  private lastDemandAt: number;
  private lastUseAt = Number.NEGATIVE_INFINITY;
  private readonly logger: Logger | undefined;
  /** Messages sent / received, for tests and metrics. */
  get stats_(): { sent: number; received: number; bytesSent: number } {
    return this.link.stats;
  }

  constructor(opts: CountersOptions = {}) {
    this.nodeName = opts.nodeName ?? 'local';
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    this.o = {
      flushIntervalMs: opts.flushIntervalMs ?? 50,
      unresponsiveMs: opts.unresponsiveMs ?? 1000,
      reclaimAfterMs: opts.reclaimAfterMs ?? 500,
      forgetAfterMs: opts.forgetAfterMs ?? 120_000,
      safety: opts.safety ?? 0.95,
      needHorizonS: opts.needHorizonS ?? 0.25,
    };
    this.peers = new PeerTracker(this.o);
    this.link = new CounterLink(this.peers, () => ({ n: this.nodeName, h: this.startedAt }));
    // Versions of our own slots start above anything an earlier process with our name wrote.
    this.verBase = this.now() * 1000;
    this.startedAt = this.now();
    this.lastDemandAt = this.now();
    this.loop = new TickLoop({
      now: this.now,
      fastMs: this.o.flushIntervalMs,
      idleMs: IDLE_TICK_MS,
      run: () => this.tick(),
      busy: () => this.busy(),
      onError: (err) => this.logger?.warn({ err: err.message }, 'counter flush failed'),
    });
    if (opts.timers !== false) this.loop.start();
  }

  private wake(): void {
    this.loop.wake();
  }

  private busy(): boolean {
    if (this.now() - this.lastUseAt < BUSY_AFTER_USE_MS) return true;
    for (const w of this.live) if (w.dirty || w.minor || w.claimUnsent) return true;
    return false;
  }

  /** Windows the tick and the flush walk (see `live`), for tests and metrics. */
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
    if (old !== this.nodeName) {
      for (const w of this.wins.values()) {
        const s = w.slots.get(old);
        if (s) {
          w.slots.delete(old);
          w.slots.set(this.nodeName, s);
        }
      }
    }
    const channel = cluster.channel(CHANNEL_COUNTERS);
    this.link.attach(channel);
    channel.onMessage((payload, from) => this.receive(payload, from));
    channel.setLocalState(() => this.encodeState());
    channel.onRemoteState((buf) => this.receive(buf, undefined, true));
  }

  close(): void {
    this.loop.close();
  }

  // ---------------------------------------------------------------- request path

  /**
   * Checks every counter a request needs in one call: all admit, or none is charged. Consumed claims
   * (requests) are charged now; the others are reserved within this node's claimed cap until settled.
   */
  admit(claims: readonly CounterClaim[], opts: { again?: boolean } = {}): AdmissionResult {
    const now = this.now();
    this.noteUse(now);
    const wins: Win[] = [];
    let refused = -1;
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i]!;
      const w = this.win(c.spec, now);
      wins.push(w);
      const amount = Math.max(0, c.amount);
      w.active = true;
      const own = this.own(w);
      // Asking again for a request refused while a claim was being confirmed: it was counted then.
      if (!opts.again) {
        this.stats.noteAttempt(c.spec.key);
        own.a += amount > 0 ? amount : this.avgAmount(c.spec.key);
        own.ver++;
        this.markMinor(w);
      }
      if (refused >= 0) continue;
      const need = c.upTo ? 0 : amount;
      if (!fits(w, own, amount)) this.claim(w, now, Math.max(amount, this.avgAmount(c.spec.key)));
      if (!fits(w, own, need)) refused = i;
    }
    const ok = refused < 0;
    const held: number[] = [];
    if (ok) {
      for (let i = 0; i < claims.length; i++) {
        const c = claims[i]!;
        const w = wins[i]!;
        const own = this.own(w);
        const room = Math.max(0, usableCap(w, own) - own.used - w.held);
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
    this.markMinor(w);
    this.stats.noteCharge(key, amount);
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
    const remaining = ok ? Math.max(0, w.limit - globalUsed(w) - w.held) : 0;
    return {
      ok,
      limit: w.limit,
      remaining,
      resetAt: w.we,
      clusterRemaining: Math.max(0, w.limit - globalUsed(w) - w.held),
      pending: w.borrow !== undefined,
    };
  }

  /**
   * Resolves when `spec`'s current window has no claim on idle peers' shares waiting for its echoes
   * (a round trip), or after `timeoutMs`: a request refused with `pending` asks again then.
   */
  claimsSettled(spec: CounterSpec, timeoutMs: number): Promise<void> {
    const w = this.win(spec, this.now());
    if (!w.borrow) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref?.();
      w.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** A borrow is waiting for its echoes (for tests that model the gateway's wait). */
  hasPendingClaims(): boolean {
    for (const w of this.live) if (w.borrow) return true;
    return false;
  }

  /**
   * Makes a borrow usable once every required peer has echoed it. Each echo carries the peer's own
   * slot as it was after it saw the borrow, so any claim the owner made on the same units is known
   * now: what the cluster holds beyond the limit is given back from the borrow.
   */
  private confirmBorrow(w: Win, now: number): void {
    const b = w.borrow;
    if (!b) return;
    if (now < w.we) {
      const required = this.requiredPeers(now);
      if (required.some((p) => p.unreachableSince > 0)) return;
      for (const p of required) if ((w.echoes.get(p.name) ?? 0) < b.ver) return;
      const over = this.reservedFor(w, new Set(required.map((p) => p.name))) - w.limit;
      if (over > 1e-9) {
        const own = this.own(w);
        own.cap -= Math.min(over, b.amount);
        own.ver++;
        this.mark(w);
      }
    }
    w.borrow = undefined;
    const waiters = w.waiters;
    w.waiters = [];
    for (const f of waiters) f();
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
    const id = windowId(spec.key, ws);
    let w = this.wins.get(id);
    if (!w) {
      w = this.newWin(spec.key, ws, windowEnd(spec.duration, ws), spec.limit);
      this.wins.set(id, w);
    }
    w.limit = spec.limit;
    w.integer = spec.integer === true;
    w.prevWs ??= windowStart(spec.duration, ws - 1);
    return w;
  }

  private newWin(key: string, ws: number, we: number, limit: number): Win {
    const w = newWindow(key, ws, we, limit);
    const id = w.id;
    const restored = this.restored.get(id);
    if (restored) {
      for (const [node, used] of restored) {
        const slotNode = node === this.nodeName ? this.nodeName : node;
        w.slots.set(slotNode, {
          used,
          cap: used,
          ver: node === this.nodeName ? this.verBase++ : 0,
          d: 0,
          nx: 0,
          a: used,
        });
      }
      this.restored.delete(id);
      // Our own restored slot makes the window ours: live, as own() makes it.
      if (w.slots.has(this.nodeName)) this.live.add(w);
    }
    return w;
  }

  private own(w: Win): Slot {
    let s = w.slots.get(this.nodeName);
    if (!s) {
      const st = this.keyStats(w.key);
      s = { used: 0, cap: 0, ver: this.verBase++, d: st.published, nx: this.nextBound(w.key, w.limit), a: 0 };
      w.slots.set(this.nodeName, s);
      this.live.add(w);
    }
    return s;
  }

  /** Our slot changed in a way peers need at the next flush. */
  private mark(w: Win): void {
    w.dirty = true;
    this.live.add(w);
  }

  /** Our slot changed only in what it counts (see Win.minor). */
  private markMinor(w: Win): void {
    w.minor = true;
    this.live.add(w);
  }

  // ---------------------------------------------------------------- peers

  private refreshPeers(now: number): void {
    this.peers.refresh(this.nodeName, now, this.cluster?.members(), (name) => {
      for (const w of this.wins.values()) {
        const s = w.slots.get(name);
        if (s) s.cap = s.used; // its admitted count stays; its unused claim returns to the pool
        w.echoes.delete(name);
      }
    });
  }

  /** Peers whose echo a claim must wait for. */
  private requiredPeers(now: number): Peer[] {
    return this.peers.required(this.nodeName, now);
  }

  // ---------------------------------------------------------------- claims

  /** Demand share of `node` (default: us) among us and every known peer, from published demand. */
  private share(key: string, node: string = this.nodeName): number {
    const own = this.keyStats(key).published;
    const dm = this.demand.get(key);
    const vals = new Map<string, number>([[this.nodeName, own]]);
    for (const p of this.peers.values()) vals.set(p.name, dm?.get(p.name)?.d ?? 0);
    let sum = 0;
    for (const v of vals.values()) sum += v;
    const eps = 1e-3 + (0.05 * sum) / vals.size;
    return ((vals.get(node) ?? 0) + eps) / (sum + eps * vals.size);
  }

  private reservedFor(w: Win, required: Set<string>): number {
    let sum = 0;
    for (const s of w.slots.values()) sum += Math.max(s.used, s.cap);
    // A peer we stopped waiting for may have made one claim we never saw (at most its announced bound).
    for (const p of this.peers.values()) {
      if (required.has(p.name) || p.unreachableSince === 0) continue;
      if (w.ws > p.unreachableSince + MINORITY_DETECT_SLACK_MS) continue;
      const slot = w.slots.get(p.name);
      // With a slot: its next claim is bounded by its nx. Without: its first claim in the window is
      // bounded by its demand share of the limit (with a margin for views of demand that differ).
      sum += slot ? slot.nx : Math.min(w.limit, (1.2 * this.share(w.key, p.name) + 0.02) * w.limit);
    }
    return sum;
  }

  /** Our announced bound for our next claim on `key`. */
  /**
   * Our announced bound for our next claim on `key`: about 0.5 s of our demand, and at least 10% of the
   * limit so a burst is served in a few claim rounds. A peer that loses us keeps this much reserved.
   */
  private nextBound(key: string, limit: number): number {
    return Math.max(this.need(key, 1) * 2, Number.isFinite(limit) ? limit * 0.1 : 0);
  }

  /** Expected use over the next needHorizonS, from the demand EWMA or a burst since the last update. */
  private need(key: string, want: number): number {
    const st = this.keyStats(key);
    const dt = Math.max(0.05, (this.now() - this.lastDemandAt) / 1000);
    const rate = Math.max(st.rate, st.attempts / dt);
    return Math.max(want, rate * st.avgAmount * this.o.needHorizonS);
  }

  /**
   * What we hold unused for what comes next: `horizons` × 0.25 s of our demand, but never more than what
   * the rest of the window is expected to ask of us (what we were asked so far, extrapolated: the same
   * estimate peers make of us). A lightly used node otherwise holds a few units to the end of the window
   * that a busy peer was refused for: with 13 light nodes of 15, −11% of the limit.
   */
  private margin(w: Win, own: Slot, now: number, horizons: number): number {
    const elapsed = elapsedFraction(w, now);
    return Math.min(this.need(w.key, 1) * horizons, (own.a * (1 - elapsed)) / elapsed);
  }

  private avgAmount(key: string): number {
    return Math.max(1e-9, this.keyStats(key).avgAmount);
  }

  /** Tries to raise our cap on `w`; returns true when it did. */
  private claim(w: Win, now: number, want: number, ahead = false): boolean {
    if (now >= w.we) return false;
    if (w.claimUnsent) return false;
    this.refreshPeers(now);
    const required = this.requiredPeers(now);
    // A required peer we cannot reach: we are on a minority side (or have not yet waived it).
    // Claim nothing until it answers or is waived: the other side may be spending the rest.
    if (required.some((p) => p.unreachableSince > 0)) return false;
    if (w.lastClaimVer > 0) {
      for (const p of required) if ((w.echoes.get(p.name) ?? 0) < w.lastClaimVer) return false;
    } else if (w.ws < this.startedAt) {
      // We (re)started inside this window: an earlier process with our name may have claimed and
      // admitted in it. Wait until every required peer has given us its full state.
      for (const p of required) if (!p.synced) return false;
    }
    const own = this.own(w);
    const requiredNames = new Set(required.map((p) => p.name));
    const pool = w.limit - this.reservedFor(w, requiredNames);
    if (pool <= 1e-9) return false;
    let amount: number;
    let borrowed = 0;
    if (this.peers.size === 0) amount = pool;
    else {
      // Never more than the bound every required peer holds for us: if it loses us right after this
      // claim, that bound is what it keeps reserved. What a node holds unused is lost for the rest of
      // the window if it dies, since nobody can tell it from a partitioned node.
      let bound = Math.max(own.nx, want);
      for (const p of required) {
        const e = w.echoNx.get(p.name);
        if (e !== undefined) bound = Math.min(bound, Math.max(e, 1e-9));
      }
      const prevW = w.prevWs === undefined ? undefined : this.wins.get(windowId(w.key, w.prevWs));
      const nodes: SlotView[] = [
        {
          name: this.nodeName,
          used: own.used + w.held,
          cap: own.cap,
          asked: w.sentA,
          history: prevW?.slots.get(this.nodeName)?.a,
        },
      ];
      // Demand history: what each peer was asked in the last window, spread over this one. With no
      // history (a key's first window) a peer not yet asked keeps its entitlement until the cluster
      // has seen as many requests as it has nodes: a balancer's first round reaches every node.
      const prev = prevW;
      const left = 1 - (now - w.ws) / Math.max(1, w.we - w.ws);
      // A peer we stopped waiting for (lost, on a majority side) is entitled to nothing more: what it may
      // still claim unseen is already reserved out of the pool (reservedFor).
      const peers = [...this.peers.values()].filter((p) => p.state !== 'left' && requiredNames.has(p.name));
      let total = own.a;
      for (const p of peers) total += w.slots.get(p.name)?.a ?? 0;
      const firstRound = total < (peers.length + 1) * (w.integer ? 1 : this.avgAmount(w.key));
      for (const p of peers) {
        const s = w.slots.get(p.name);
        const asked = s?.a ?? 0;
        let expect = 0;
        if (prev) expect = (prev.slots.get(p.name)?.a ?? 0) * left;
        else if (asked === 0 && firstRound) expect = Number.POSITIVE_INFINITY;
        nodes.push({
          name: p.name,
          used: s?.used ?? 0,
          cap: s?.cap ?? 0,
          asked,
          expect,
          history: prev?.slots.get(p.name)?.a,
        });
      }
      ({ amount, borrowed } = claimAmount({
        self: this.nodeName,
        limit: w.limit,
        nodes,
        pool,
        want,
        bound,
        elapsed: elapsedFraction(w, now),
        integer: w.integer,
        ahead,
      }));
    }
    if (amount <= 1e-9) return false;
    own.cap = Math.max(own.cap, own.used) + amount;
    own.ver++;
    if (this.peers.size > 0) {
      w.lastClaimVer = own.ver;
      w.claimUnsent = true;
      w.ackReq = true;
      if (borrowed > 1e-9) w.borrow = { amount: (w.borrow?.amount ?? 0) + borrowed, ver: own.ver };
    }
    this.mark(w);
    // Every claim goes out now, not at the next flush: a peer that has not seen it may count these units
    // as free (an idle node's share) and take them too, so the window in which two claims can overlap
    // must be the network's latency, not the flush interval.
    if (this.peers.size > 0) this.sendWindowNow(w, now);
    return true;
  }

  private sendWindowNow(w: Win, now: number): void {
    if (!this.link.attached) return;
    const entry = toWire(w, this.nodeName, true);
    this.sent(w, now);
    this.link.sendAll(this.link.encode([entry]), true, now);
  }

  /** Our slot of `w` has just been put on the wire: nothing of it is pending any more. */
  private sent(w: Win, now: number): void {
    w.dirty = false;
    w.minor = false;
    w.ackReq = false;
    w.claimUnsent = false;
    w.lastSentAt = now;
    w.sentA = w.slots.get(this.nodeName)?.a ?? 0;
  }

  /** Lowers our cap to what we need when peers are asking for more; always safe. */
  private maybeRelease(w: Win, now: number): void {
    const own = w.slots.get(this.nodeName);
    if (!own || this.peers.size === 0 || w.borrow) return;
    const exact = own.used + w.held + this.margin(w, own, now, 4);
    const keep = w.integer ? Math.max(own.used + w.held, Math.round(exact)) : exact;
    if (own.cap <= keep) return;
    // Is any peer short (its cap nearly used) with demand?
    let peerWants = false;
    const dm = this.demand.get(w.key);
    for (const [node, s] of w.slots) {
      if (node === this.nodeName) continue;
      if ((dm?.get(node)?.d ?? 0) > 0 && s.cap - s.used < Math.max(1, s.cap * 0.2)) peerWants = true;
    }
    if (!peerWants) return;
    own.cap = keep;
    own.ver++;
    this.mark(w);
  }

  // ---------------------------------------------------------------- demand

  private keyStats(key: string): KeyDemand {
    return this.stats.get(key);
  }

  private updateDemand(now: number): void {
    const dt = (now - this.lastDemandAt) / 1000;
    if (dt < 0.5) return;
    this.lastDemandAt = now;
    // Keys whose published demand changed; their open windows are updated in one pass below (one pass
    // per changed key made this O(keys × windows): with 1,000 keys in use, tens of ms every 0.5 s).
    const changedKeys = this.stats.roll(dt, now);
    if (changedKeys.size === 0) return;
    for (const w of this.live) {
      if (now >= w.we || !changedKeys.has(w.key)) continue;
      const s = w.slots.get(this.nodeName);
      if (s) {
        s.d = this.keyStats(w.key).published;
        s.nx = Math.max(s.nx, this.nextBound(w.key, w.limit)); // monotone: a peer holding any version reserves enough
        s.ver++;
        this.markMinor(w);
      }
    }
  }

  // ---------------------------------------------------------------- periodic work

  /** Flushes changes, refreshes demand, claims ahead of need, collects old windows. */
  tick(): void {
    const now = this.now();
    this.refreshPeers(now);
    this.greet(now);
    this.updateDemand(now);
    if (now - this.lastSweepAt >= SWEEP_EVERY_MS) this.sweep(now);
    for (const w of this.live) {
      this.confirmBorrow(w, now);
      if (now >= w.we || !w.slots.has(this.nodeName)) {
        if (!w.dirty && !w.minor && !w.borrow) this.live.delete(w);
        continue;
      }
      if (w.active) {
        const own = this.own(w);
        const left = usableCap(w, own) - own.used;
        const soon = this.margin(w, own, now, 1);
        if (left < (w.integer ? Math.round(soon) : soon)) this.claim(w, now, 1, true);
        else this.maybeRelease(w, now);
      } else this.maybeRelease(w, now);
      // Waiting for echoes too long (a lost datagram): ask again.
      if (w.lastClaimVer > 0 && !w.claimUnsent && now - w.lastSentAt > REASK_MS) {
        const required = this.requiredPeers(now);
        if (required.some((p) => (w.echoes.get(p.name) ?? 0) < w.lastClaimVer)) {
          this.mark(w);
          w.ackReq = true;
        }
      }
    }
    this.flush(now);
  }

  /** Forgets windows that ended more than 10 minutes ago. */
  private sweep(now: number): void {
    this.lastSweepAt = now;
    for (const [id, w] of this.wins) {
      if (now <= w.we + 10 * 60_000) continue;
      this.wins.delete(id);
      this.live.delete(w);
    }
  }

  private flush(now: number): void {
    if (!this.link.attached) {
      for (const w of this.live) {
        w.dirty = false;
        w.minor = false;
        w.claimUnsent = false;
      }
      return;
    }
    const entries: WireWin[] = [];
    let asks = false;
    const minorGap = Math.max(this.o.flushIntervalMs, this.peers.size * MINOR_GAP_PER_PEER_MS);
    for (const w of this.live) {
      if (!w.dirty && !(w.minor && now - w.lastSentAt >= minorGap)) continue;
      const ask = w.ackReq || w.borrow !== undefined;
      asks ||= ask;
      entries.push(toWire(w, this.nodeName, ask, w.echoOwed));
      w.echoOwed = undefined;
      this.sent(w, now);
    }
    if (entries.length === 0) return;
    this.link.sendAll(this.link.encode(entries), asks, now);
  }

  /** Asks the peers that have not sent us their full state for it (see PeerTracker.toGreet). */
  private greet(now: number): void {
    if (!this.link.attached) return;
    const peers = this.peers.toGreet(now);
    if (peers.length === 0) return;
    const hello = this.link.hello();
    for (const p of peers) this.link.sendTo(p.name, hello);
  }

  /** Windows that ended less than a minute ago, every slot we know: what a (re)started peer needs. */
  private fullState(now: number): WireWin[] {
    const entries: WireWin[] = [];
    for (const w of this.wins.values())
      if (now < w.we + 60_000) entries.push(toWire(w, this.nodeName, false, 'all'));
    return entries;
  }

  /** Sends our whole state to one peer (it just (re)started, or asked for it). */
  private sendFull(peer: Peer, now: number): void {
    if (!this.link.attached || now - peer.lastFullAt < FULL_STATE_GAP_MS) return;
    peer.lastFullAt = now;
    this.link.sendTo(peer.name, this.link.encode(this.fullState(now), true));
  }

  private encodeState(): Buffer {
    return this.link.encodeState(this.fullState(this.now()));
  }

  // ---------------------------------------------------------------- receive

  /** Merges a peer's message or push/pull state. Public for tests and for the gossip adapter. */
  receive(payload: Buffer, fromHint: string | undefined, fullState = false): void {
    const msg = decodeCounterMessage(payload);
    if (!msg) return;
    const from = msg.n || fromHint;
    if (!from || from === this.nodeName) return;
    this.link.stats.received++;
    const now = this.now();
    const peer = this.peers.heard(from, now);
    const echo: Win[] = [];
    const restarted = typeof msg.h === 'number' && msg.h !== peer.h;
    if (typeof msg.h === 'number') peer.h = msg.h;
    for (const entry of msg.w) {
      if (!Array.isArray(entry) || entry.length < 5) continue;
      const [key, ws, we, ackReq, slots] = entry;
      if (
        typeof key !== 'string' ||
        typeof ws !== 'number' ||
        typeof we !== 'number' ||
        !Array.isArray(slots)
      )
        continue;
      if (now > we + 10 * 60_000) continue;
      const id = windowId(key, ws);
      let w = this.wins.get(id);
      if (!w) {
        w = this.newWin(key, ws, we, Number.POSITIVE_INFINITY);
        this.wins.set(id, w);
      }
      for (const s of slots) {
        if (!Array.isArray(s) || s.length < 6) continue;
        const [node, used, cap, ver, d, nx, a] = s;
        if (typeof node !== 'string') continue;
        const asked = Number(a ?? 0);
        this.mergeSlot(w, from, node, {
          used: +used,
          cap: +cap,
          ver: +ver,
          d: +d,
          nx: +nx,
          a: Number.isFinite(asked) && asked > 0 ? asked : 0,
        });
      }
      // The sender waits for this echo before its next claim (or to use a borrow): answer now.
      if (ackReq === 1) echo.push(w);
      this.confirmBorrow(w, now);
    }
    if (fullState || msg.f === 1) peer.synced = true;
    if (echo.length > 0 && this.link.attached) {
      if (now - peer.lastEchoAt >= ECHO_GAP_MS) {
        peer.lastEchoAt = now;
        const claimer = new Set([from]);
        this.link.sendTo(from, this.link.encode(echo.map((w) => toWire(w, this.nodeName, false, claimer))));
      } else {
        for (const w of echo) {
          this.mark(w);
          w.echoOwed ??= new Set();
          w.echoOwed.add(from);
        }
        this.wake();
      }
    }
    // A peer we never heard from, that restarted, or that asks: give it everything we know (a restarted
    // peer may hold old claims, and must see everyone's before it claims in a window it joined late).
    if (restarted || msg.q === 1) this.sendFull(peer, now);
  }

  private mergeSlot(w: Win, from: string, node: string, inc: Slot): void {
    if (!Number.isFinite(inc.used) || !Number.isFinite(inc.cap) || !Number.isFinite(inc.ver)) return;
    if (node === this.nodeName) {
      // The sender's copy of our slot: an echo of our claims, or our own state from before a restart.
      const prev = w.echoes.get(from) ?? 0;
      if (inc.ver > prev) {
        w.echoes.set(from, inc.ver);
        if (Number.isFinite(inc.nx)) w.echoNx.set(from, inc.nx);
      }
      // Only `used` is adopted (grow-only); a cap is never taken back from an old copy, since a
      // released cap may already have been claimed by others.
      const own = this.own(w);
      if (inc.a > own.a) own.a = inc.a;
      if (inc.used > own.used + 1e-9) {
        own.used = inc.used;
        own.cap = Math.max(own.cap, own.used);
        own.ver = Math.max(own.ver, inc.ver) + 1;
        this.mark(w);
      }
      return;
    }
    if (mergePeerSlot(w, node, inc) && Number.isFinite(inc.d) && Number.isFinite(inc.nx)) {
      let dm = this.demand.get(w.key);
      if (!dm) {
        dm = new Map();
        this.demand.set(w.key, dm);
      }
      dm.set(node, { d: inc.d, nx: inc.nx });
    }
  }

  // ---------------------------------------------------------------- persistence

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
  restoreUsage(rows: UsageRow[]): void {
    for (const r of rows) {
      const id = windowId(r.counter, r.windowStart);
      const w = this.wins.get(id);
      if (w) {
        const node = r.node;
        const s = w.slots.get(node);
        if (node === this.nodeName) {
          const own = this.own(w);
          if (r.value > own.used) {
            own.used = r.value;
            own.cap = Math.max(own.cap, r.value);
            own.ver++;
            this.mark(w);
          }
        } else if (!s) w.slots.set(node, { used: r.value, cap: r.value, ver: 0, d: 0, nx: 0, a: r.value });
        else if (r.value > s.used) {
          s.used = r.value;
          s.cap = Math.max(s.cap, r.value);
        }
        continue;
      }
      let m = this.restored.get(id);
      if (!m) {
        m = new Map();
        this.restored.set(id, m);
      }
      m.set(r.node, Math.max(m.get(r.node) ?? 0, r.value));
    }
  }

  /** Debug view of one counter's current window. */
  inspect(spec: CounterSpec): { slots: Record<string, Slot>; limit: number } {
    const w = this.win(spec, this.now());
    return { slots: Object.fromEntries([...w.slots].map(([k, v]) => [k, { ...v }])), limit: w.limit };
  }
}
