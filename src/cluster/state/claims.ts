import type { DemandView } from './demand-view.js';
import { claimAmount, type SlotView } from './limiter.js';
import type { Peer, PeerTracker } from './peers.js';
import { echoedBy, elapsedFraction, type Slot, type Win } from './window.js';
import type { WindowTable } from './window-table.js';

/**
 * A peer cut off from us may learn of the cut later than we do (an idle node asks nobody, and its
 * failure detector probes at its own pace): until it does, it may claim its share in a window that
 * starts after we marked it unreachable. Windows starting this soon after still reserve that share.
 * It bounds that lag by one probe round (interval + timeout, LAN timings). It is not longer because a
 * killed node looks the same: after a crash, a window starting within it loses the dead node's share
 * (5 s cost 72% of the window after a kill in bench/limits-accuracy).
 */
const MINORITY_DETECT_SLACK_MS = 2000;

/** What the claim protocol reads and does outside itself. */
export interface ClaimContext {
  /** This node's name (it changes once, when the gossip layer names us). */
  readonly self: string;
  readonly table: WindowTable;
  readonly peers: PeerTracker;
  readonly demand: DemandView;
  readonly startedAt: number;
  /** Brings the peer list up to date (membership's view, silent peers). */
  refreshPeers(now: number): void;
  /** Puts our slot of `w` on the wire to every peer now, asking for echoes. */
  sendNow(w: Win, now: number): void;
}

/**
 * The protocol that changes our own slot's cap: claiming a share of what is left of a limit (at most
 * one unseen claim per node per window: the next waits for every required peer's echo), confirming a
 * claim on idle peers' shares (a borrow) once echoed, and releasing what we will not need when peers
 * are short. How much to claim is limiter.ts's pure rule; this file gathers its inputs and keeps the
 * invariant Σ caps ≤ limit across the cluster (docs/design-limits.md).
 */
export class ClaimProtocol {
  constructor(private readonly c: ClaimContext) {}

  /** Peers whose echo a claim must wait for. */
  required(now: number): Peer[] {
    return this.c.peers.required(this.c.self, now);
  }

  /** Tries to raise our cap on `w` by about `want`; returns true when it did. */
  claim(w: Win, now: number, want: number, ahead = false): boolean {
    if (now >= w.we || w.claimUnsent) return false;
    const { table, peers } = this.c;
    this.c.refreshPeers(now);
    const required = this.required(now);
    // A required peer we cannot reach: we are on a minority side (or have not yet waived it).
    // Claim nothing until it answers or is waived: the other side may be spending the rest.
    if (required.some((p) => p.unreachableSince > 0)) return false;
    if (w.lastClaimVer > 0) {
      for (const p of required) if (!echoedBy(w, p.name, w.lastClaimVer)) return false;
    } else if (w.ws < this.c.startedAt) {
      // We (re)started inside this window: an earlier process with our name may have claimed and
      // admitted in it. Wait until every required peer has given us its full state.
      for (const p of required) if (!p.synced) return false;
    }
    const own = table.own(w);
    const requiredNames = new Set(required.map((p) => p.name));
    const pool = w.limit - this.reservedFor(w, requiredNames);
    if (pool <= 1e-9) return false;
    let amount: number;
    let borrowed = 0;
    if (peers.size === 0) amount = pool;
    else ({ amount, borrowed } = claimAmount(this.claimInput(w, own, now, pool, want, ahead, requiredNames)));
    if (amount <= 1e-9) return false;
    own.cap = Math.max(own.cap, own.used) + amount;
    own.ver++;
    if (peers.size > 0) {
      w.lastClaimVer = own.ver;
      w.claimUnsent = true;
      w.ackReq = true;
      if (borrowed > 1e-9) w.borrow = { amount: (w.borrow?.amount ?? 0) + borrowed, ver: own.ver };
    }
    table.mark(w);
    // Every claim goes out now, not at the next flush: a peer that has not seen it may count these units
    // as free (an idle node's share) and take them too, so the window in which two claims can overlap
    // must be the network's latency, not the flush interval.
    if (peers.size > 0) this.c.sendNow(w, now);
    return true;
  }

  /** Every node's slot as the claim rule sees it, with what each is expected to ask for. */
  private claimInput(
    w: Win,
    own: Slot,
    now: number,
    pool: number,
    want: number,
    ahead: boolean,
    requiredNames: ReadonlySet<string>,
  ): Parameters<typeof claimAmount>[0] {
    const { self } = this.c;
    // Never more than the bound every required peer holds for us: if it loses us right after this
    // claim, that bound is what it keeps reserved. What a node holds unused is lost for the rest of
    // the window if it dies, since nobody can tell it from a partitioned node.
    let bound = Math.max(own.nx, want);
    for (const name of requiredNames) {
      const e = w.echoNx.get(name);
      if (e !== undefined) bound = Math.min(bound, Math.max(e, 1e-9));
    }
    const prev = this.c.table.previous(w);
    const nodes: SlotView[] = [
      {
        name: self,
        used: own.used + w.held,
        cap: own.cap,
        asked: w.sentA,
        history: prev?.slots.get(self)?.a,
      },
    ];
    // Demand history: what each peer was asked in the last window, spread over this one. With no
    // history (a key's first window) a peer not yet asked keeps its entitlement until the cluster
    // has seen as many requests as it has nodes: a balancer's first round reaches every node.
    const left = 1 - (now - w.ws) / Math.max(1, w.we - w.ws);
    // A peer we stopped waiting for (lost, on a majority side) is entitled to nothing more: what it may
    // still claim unseen is already reserved out of the pool (reservedFor).
    const peers = [...this.c.peers.values()].filter((p) => p.state !== 'left' && requiredNames.has(p.name));
    let total = own.a;
    for (const p of peers) total += w.slots.get(p.name)?.a ?? 0;
    const firstRound = total < (peers.length + 1) * (w.integer ? 1 : this.c.demand.avgAmount(w.key));
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
    return {
      self,
      limit: w.limit,
      nodes,
      pool,
      want,
      bound,
      elapsed: elapsedFraction(w, now),
      integer: w.integer,
      ahead,
    };
  }

  /** What the slots of `w` hold of its limit, plus what peers we stopped waiting for may hold unseen. */
  private reservedFor(w: Win, required: ReadonlySet<string>): number {
    let sum = 0;
    for (const s of w.slots.values()) sum += Math.max(s.used, s.cap);
    for (const p of this.c.peers.values()) {
      if (required.has(p.name) || p.unreachableSince === 0) continue;
      if (w.ws > p.unreachableSince + MINORITY_DETECT_SLACK_MS) continue;
      const slot = w.slots.get(p.name);
      // With a slot: its next claim is bounded by its nx. Without: its first claim in the window is
      // bounded by its demand share of the limit (with a margin for views of demand that differ).
      sum += slot ? slot.nx : Math.min(w.limit, (1.2 * this.share(w.key, p.name) + 0.02) * w.limit);
    }
    return sum;
  }

  /** Demand share of `node` among us and every known peer, from published demand. */
  private share(key: string, node: string): number {
    const names = [...this.c.peers.values()].map((p) => p.name);
    return this.c.demand.share(key, node, this.c.self, names);
  }

  /**
   * Makes a borrow usable once every required peer has echoed it. Each echo carries the peer's own
   * slot as it was after it saw the borrow, so any claim the owner made on the same units is known
   * now: what the cluster holds beyond the limit is given back from the borrow.
   */
  confirmBorrow(w: Win, now: number): void {
    const b = w.borrow;
    if (!b) return;
    if (now < w.we) {
      const required = this.required(now);
      if (required.some((p) => p.unreachableSince > 0)) return;
      for (const p of required) if (!echoedBy(w, p.name, b.ver)) return;
      const over = this.reservedFor(w, new Set(required.map((p) => p.name))) - w.limit;
      if (over > 1e-9) {
        const own = this.c.table.own(w);
        own.cap -= Math.min(over, b.amount);
        own.ver++;
        this.c.table.mark(w);
      }
    }
    w.borrow = undefined;
    const waiters = w.waiters;
    w.waiters = [];
    for (const f of waiters) f();
  }

  /**
   * What we hold unused for what comes next: `horizons` × 0.25 s of our demand, but never more than what
   * the rest of the window is expected to ask of us (what we were asked so far, extrapolated: the same
   * estimate peers make of us). A lightly used node otherwise holds a few units to the end of the window
   * that a busy peer was refused for: with 13 light nodes of 15, −11% of the limit.
   */
  margin(w: Win, own: Slot, now: number, horizons: number): number {
    const elapsed = elapsedFraction(w, now);
    return Math.min(this.c.demand.need(w.key, 1) * horizons, (own.a * (1 - elapsed)) / elapsed);
  }

  /** Lowers our cap to what we need when peers are asking for more; always safe. */
  release(w: Win, now: number): void {
    const { self, peers, demand } = this.c;
    const own = w.slots.get(self);
    if (!own || peers.size === 0 || w.borrow) return;
    const exact = own.used + w.held + this.margin(w, own, now, 4);
    const keep = w.integer ? Math.max(own.used + w.held, Math.round(exact)) : exact;
    if (own.cap <= keep) return;
    // Is any peer short (its cap nearly used) with demand?
    let peerWants = false;
    for (const [node, s] of w.slots) {
      if (node === self) continue;
      if (demand.peer(w.key, node) > 0 && s.cap - s.used < Math.max(1, s.cap * 0.2)) peerWants = true;
    }
    if (!peerWants) return;
    own.cap = keep;
    own.ver++;
    this.c.table.mark(w);
  }
}
