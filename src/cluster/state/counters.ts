import type { Duration } from '../../config/duration.js';
import type { Logger } from '../../observability/logger.js';
import type { UsageRow } from '../../store/types.js';
import { ClaimProtocol } from './claims.js';
import { DemandView } from './demand-view.js';
import { CHANNEL_COUNTERS, type ClusterLike } from './gossip.js';
import { CounterLink } from './link.js';
import { mergeWindow } from './merge.js';
import { type Peer, PeerTracker } from './peers.js';
import { TickLoop } from './tick-loop.js';
import { echoedBy, fits, globalUsed, type Slot, toWire, usableCap, type Win } from './window.js';
import { WindowTable } from './window-table.js';
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
 * never takes the whole limit a second time.
 *
 * This file is the request path and the scheduler. The mechanisms live one per
 * file: limiter.ts the claim rule (pure), claims.ts the claim protocol around
 * it, window.ts a window's slots and their merge, window-table.ts every window
 * known, merge.ts what a peer's message changes, demand-view.ts every node's
 * demand, peers.ts who takes part, wire.ts and link.ts the codec and the sends.
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
 * A claim still missing an echo is asked again (of the peers missing) at the first tick this long after
 * it went out (a lost datagram): the node claims nothing more in that window until every required peer
 * has echoed, and only echoes confirm a claim. Ten times a LAN round trip; at 40 ms a round that lost a
 * datagram took ~70 ms, and at 100 peers with 1% loss most rounds lose one (first window under skew
 * −3.0% in the simulator, now −1.4%).
 */
const REASK_MS = 10;

/**
 * A window whose only change is what it counts goes to every peer at most every (peers × this) ms,
 * and never more often than the flush: 50 ms up to 5 peers, 0.14 s at 15 nodes, 1 s at 100, 5 s at
 * 500. A node's counting traffic then stays bounded as the cluster grows, instead of growing with
 * every peer. Safety never waits for it (caps travel with claims, bounds with echoes); at 3 ms per
 * peer the simulator's accuracy was the same with 1.5-3x the bytes.
 */
const MINOR_GAP_PER_PEER_MS = 10;
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
  private readonly table: WindowTable;
  private readonly demand: DemandView;
  private readonly peers: PeerTracker;
  private readonly claims: ClaimProtocol;
  private cluster: ClusterLike | undefined;
  private readonly link: CounterLink;
  private readonly loop: TickLoop;
  private readonly startedAt: number;
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
      needHorizonS: opts.needHorizonS ?? 0.25,
    };
    this.startedAt = this.now();
    this.demand = new DemandView(this.now, this.o.needHorizonS);
    this.table = new WindowTable(
      () => this.nodeName,
      (key, limit) => ({ d: this.demand.published(key), nx: this.demand.nextBound(key, limit) }),
      this.startedAt,
    );
    this.peers = new PeerTracker(this.o);
    this.link = new CounterLink(this.peers, () => ({ n: this.nodeName, h: this.startedAt }));
    const self = this;
    this.claims = new ClaimProtocol({
      get self() {
        return self.nodeName;
      },
      table: this.table,
      peers: this.peers,
      demand: this.demand,
      startedAt: this.startedAt,
      refreshPeers: (now) => this.refreshPeers(now),
      sendNow: (w, now) => this.sendWindowNow(w, now),
    });
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

  private busy(): boolean {
    if (this.now() - this.lastUseAt < BUSY_AFTER_USE_MS) return true;
    for (const w of this.table.live) if (w.dirty || w.minor || w.claimUnsent) return true;
    return false;
  }

  /** Windows the tick and the flush walk (see WindowTable.live), for tests and metrics. */
  get liveWindows(): number {
    return this.table.live.size;
  }

  get localName(): string {
    return this.nodeName;
  }

  /** Plugs in the gossip layer. Works before, after, or without it. */
  attachCluster(cluster: ClusterLike): void {
    this.cluster = cluster;
    const old = this.nodeName;
    this.nodeName = cluster.localName;
    this.table.renameSelf(old);
    const channel = cluster.channel(CHANNEL_COUNTERS);
    this.link.attach(channel);
    channel.onMessage((payload, from) => this.receive(payload, from));
    channel.setLocalState(() => this.link.encodeState(this.table.fullState(this.now())));
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
      const w = this.table.forSpec(c.spec, now);
      wins.push(w);
      const amount = Math.max(0, c.amount);
      w.active = true;
      const own = this.table.own(w);
      // Asking again for a request refused while a claim was being confirmed: it was counted then.
      if (!opts.again) {
        this.demand.noteAttempt(c.spec.key);
        own.a += amount > 0 ? amount : this.demand.avgAmount(c.spec.key);
        own.ver++;
        this.table.markMinor(w);
      }
      if (refused >= 0) continue;
      const need = c.upTo ? 0 : amount;
      if (!fits(w, own, amount))
        this.claims.claim(w, now, Math.max(amount, this.demand.avgAmount(c.spec.key)));
      if (!fits(w, own, need)) refused = i;
    }
    const ok = refused < 0;
    const held: number[] = [];
    if (ok) {
      for (let i = 0; i < claims.length; i++) {
        const c = claims[i]!;
        const w = wins[i]!;
        const own = this.table.own(w);
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
    const own = this.table.own(w);
    own.used += amount;
    own.ver++;
    this.table.markMinor(w);
    this.demand.noteCharge(key, amount);
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
    const w = this.table.forSpec(spec, now);
    if (amount > 0) this.charge(w, spec.key, amount);
    return this.decision(w, true);
  }

  /** Current state without counting an attempt. */
  peek(spec: CounterSpec): CounterDecision {
    const w = this.table.forSpec(spec, this.now());
    return this.decision(w, fits(w, this.table.own(w), 0));
  }

  /** Cluster-wide used estimate for the current window. */
  used(spec: CounterSpec): number {
    return globalUsed(this.table.forSpec(spec, this.now()));
  }

  /** A refusal reports nothing remaining: what is left belongs to other nodes' claims until they release it. */
  private decision(w: Win, ok: boolean): CounterDecision {
    const left = Math.max(0, w.limit - globalUsed(w) - w.held);
    return {
      ok,
      limit: w.limit,
      remaining: ok ? left : 0,
      resetAt: w.we,
      clusterRemaining: left,
      pending: w.borrow !== undefined,
    };
  }

  /**
   * Resolves when `spec`'s current window has no claim on idle peers' shares waiting for its echoes
   * (a round trip), or after `timeoutMs`: a request refused with `pending` asks again then.
   */
  claimsSettled(spec: CounterSpec, timeoutMs: number): Promise<void> {
    const w = this.table.forSpec(spec, this.now());
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
    for (const w of this.table.live) if (w.borrow) return true;
    return false;
  }

  private noteUse(now: number): void {
    const idle = now - this.lastUseAt >= BUSY_AFTER_USE_MS;
    this.lastUseAt = now;
    if (idle) this.loop.wake();
  }

  private refreshPeers(now: number): void {
    this.peers.refresh(this.nodeName, now, this.cluster?.members(), (name) => this.table.releasePeer(name));
  }

  // ---------------------------------------------------------------- periodic work

  /** Flushes changes, refreshes demand, claims ahead of need, collects old windows. */
  tick(): void {
    const now = this.now();
    this.refreshPeers(now);
    this.greet(now);
    this.announceDemand(now);
    this.table.sweepIfDue(now);
    for (const w of this.table.live) {
      this.claims.confirmBorrow(w, now);
      if (now >= w.we || !w.slots.has(this.nodeName)) {
        if (!w.dirty && !w.minor && !w.borrow) this.table.live.delete(w);
        continue;
      }
      if (w.active) {
        const own = this.table.own(w);
        const left = usableCap(w, own) - own.used;
        const soon = this.claims.margin(w, own, now, 1);
        if (left < (w.integer ? Math.round(soon) : soon)) this.claims.claim(w, now, 1, true);
        else this.claims.release(w, now);
      } else this.claims.release(w, now);
      // Waiting for echoes too long (a lost datagram): ask again, only the peers that have not echoed.
      if (w.lastClaimVer > 0 && !w.claimUnsent && now - Math.max(w.lastSentAt, w.reaskedAt) > REASK_MS)
        this.reask(w, now);
    }
    this.flush(now);
  }

  /**
   * Puts our changed demand into our slots of the keys whose demand moved. Only open windows we hold a
   * slot in are touched, in one pass (one pass per changed key was O(keys × windows)).
   */
  private announceDemand(now: number): void {
    const changedKeys = this.demand.rollIfDue(now);
    if (!changedKeys || changedKeys.size === 0) return;
    for (const w of this.table.live) {
      if (now >= w.we || !changedKeys.has(w.key)) continue;
      const s = w.slots.get(this.nodeName);
      if (s) {
        s.d = this.demand.published(w.key);
        s.nx = Math.max(s.nx, this.demand.nextBound(w.key, w.limit)); // monotone: a peer holding any version reserves enough
        s.ver++;
        this.table.markMinor(w);
      }
    }
  }

  /**
   * Our slot again, asking for an echo, to each required peer that has not echoed our last claim. At 100
   * peers and 1% loss most claim rounds lose an echo or a claim: asking all of them again cost 99 messages
   * to repair one, and the claimer still waited for the slowest.
   */
  private reask(w: Win, now: number): void {
    if (!this.link.attached) return;
    const gen = this.peers.generation;
    if (w.echoedAllVer === w.lastClaimVer && w.echoedAllGen === gen) return;
    let payloads: Buffer[] | undefined;
    for (const p of this.claims.required(now)) {
      if (echoedBy(w, p.name, w.lastClaimVer)) continue;
      payloads ??= this.link.encode([toWire(w, this.nodeName, true)]);
      this.peers.asked(p, now);
      this.link.sendTo(p.name, payloads);
    }
    if (payloads) w.reaskedAt = now;
    else {
      w.echoedAllVer = w.lastClaimVer;
      w.echoedAllGen = gen;
    }
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

  private flush(now: number): void {
    if (!this.link.attached) {
      for (const w of this.table.live) {
        w.dirty = false;
        w.minor = false;
        w.claimUnsent = false;
      }
      return;
    }
    const entries: WireWin[] = [];
    let asks = false;
    const minorGap = Math.max(this.o.flushIntervalMs, this.peers.size * MINOR_GAP_PER_PEER_MS);
    for (const w of this.table.live) {
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

  /** Sends our whole state to one peer (it just (re)started, or asked for it). */
  private sendFull(peer: Peer, now: number): void {
    if (!this.link.attached || now - peer.lastFullAt < FULL_STATE_GAP_MS) return;
    peer.lastFullAt = now;
    this.link.sendTo(peer.name, this.link.encode(this.table.fullState(now), true));
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
    const restarted = msg.h !== undefined && msg.h !== peer.h;
    if (msg.h !== undefined) peer.h = msg.h;
    const echo: Win[] = [];
    for (const entry of msg.w) {
      const w = mergeWindow(this.table, this.demand, this.nodeName, from, entry, now);
      if (!w) continue;
      // The sender waits for this echo before its next claim (or to use a borrow): answer now.
      if (entry[3] === 1) echo.push(w);
      this.claims.confirmBorrow(w, now);
    }
    if (fullState || msg.f === 1) peer.synced = true;
    if (echo.length > 0) this.answerEchoes(peer, echo, now);
    // A peer we never heard from, that restarted, or that asks: give it everything we know (a restarted
    // peer may hold old claims, and must see everyone's before it claims in a window it joined late).
    if (restarted || msg.q === 1) this.sendFull(peer, now);
  }

  /** Echoes at once, at most every ECHO_GAP_MS per peer; faster askers get theirs with the next flush. */
  private answerEchoes(peer: Peer, echo: readonly Win[], now: number): void {
    if (!this.link.attached) return;
    if (now - peer.lastEchoAt >= ECHO_GAP_MS) {
      peer.lastEchoAt = now;
      const claimer = new Set([peer.name]);
      this.link.sendTo(
        peer.name,
        this.link.encode(echo.map((w) => toWire(w, this.nodeName, false, claimer))),
      );
      return;
    }
    for (const w of echo) {
      this.table.mark(w);
      w.echoOwed ??= new Set();
      w.echoOwed.add(peer.name);
    }
    this.loop.wake();
  }

  // ---------------------------------------------------------------- persistence

  /** Usage slots of windows at least `minDurationMs` long, for the store. */
  usageRows(minDurationMs: number): UsageRow[] {
    return this.table.usageRows(minDurationMs);
  }

  /** Merges persisted usage (taken as both used and claimed: it is spent). */
  restoreUsage(rows: UsageRow[]): void {
    this.table.restoreUsage(rows);
  }

  /** Debug view of one counter's current window. */
  inspect(spec: CounterSpec): { slots: Record<string, Slot>; limit: number } {
    const w = this.table.forSpec(spec, this.now());
    return { slots: Object.fromEntries([...w.slots].map(([k, v]) => [k, { ...v }])), limit: w.limit };
  }
}
