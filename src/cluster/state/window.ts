import { claimAmount, type SlotView } from './limiter.js';

/**
 * The algorithm of the cluster-wide counters, as pure functions on one counter
 * window (no clock, no network: the scheduler in counters.ts passes both in).
 * See docs/design-limits.md for the safety argument; test/cluster/state/window.test.ts
 * checks Σ admitted ≤ limit on random interleavings of admissions and deliveries.
 *
 * Per window every node owns one slot {used, cap, ver, d, nx, a}: `used` only
 * grows (merge = max), `cap` is the part of the limit the node has claimed,
 * and a node claims again on a window only once every required peer has echoed
 * its previous claim (at most one claim per node is ever unseen).
 */

export interface Slot {
  used: number;
  cap: number;
  ver: number;
  /** Published demand (attempts per second) of the slot's node for this counter. */
  d: number;
  /** Upper bound of the slot node's next claim (what others reserve when it becomes unreachable). */
  nx: number;
  /** What the slot's node was asked for in this window, admitted or not (grow-only): its share of the demand. */
  a: number;
}

export interface Win {
  id: string;
  key: string;
  ws: number;
  we: number;
  limit: number;
  slots: Map<string, Slot>;
  /** Own slot version at the last claim (0: never claimed in this window). */
  lastClaimVer: number;
  /** A claim made and not yet sent: no second claim until it is. */
  claimUnsent: boolean;
  /** When the last claim was sent (or re-asked). */
  lastSentAt: number;
  /** Start of the window before this one (its slots are the demand history). */
  prevWs?: number;
  /** Our `a` as last sent: the shares are computed from what every node can know, our own included. */
  sentA: number;
  /** Peer -> highest version of OUR slot it has echoed back. */
  echoes: Map<string, number>;
  /** Peer -> our next-claim bound in that echo (what it would reserve for us). */
  echoNx: Map<string, number>;
  /** Own attempts in this window (drives proactive claims). */
  active: boolean;
  /** Apportioned in whole units. */
  integer: boolean;
  /** Local reservations not yet settled (part of our cap, never sent: the cap already covers them). */
  held: number;
  /** Own slot changed since it was last gossiped. */
  ownChanged: boolean;
  /** The change lowers our cap or raises our used beyond it: gossip it at the next tick, not when due. */
  urgent: boolean;
  /** When our slot was last gossiped. */
  gossipedAt: number;
  /** Last time any slot of the window changed (anti-entropy digests cover recent windows only). */
  changedAt: number;
  /** Last own use (the tick visits windows in use, not every window). */
  touchedAt: number;
}

/** A peer as the claim rule sees it. */
export interface PeerView {
  name: string;
  /** 0 while reachable, else since when it is not. */
  unreachableSince: number;
  /** Sent us its full state since we started. */
  synced: boolean;
}

export function createWin(key: string, ws: number, we: number, limit: number): Win {
  return {
    id: `${key}@${ws}`,
    key,
    ws,
    we,
    limit,
    slots: new Map(),
    lastClaimVer: 0,
    claimUnsent: false,
    lastSentAt: 0,
    sentA: 0,
    echoes: new Map(),
    echoNx: new Map(),
    active: false,
    integer: false,
    held: 0,
    ownChanged: false,
    urgent: false,
    gossipedAt: Number.NEGATIVE_INFINITY,
    changedAt: 0,
    touchedAt: Number.NEGATIVE_INFINITY,
  };
}

/** Room left under our cap (and the limit) for `amount`; amount 0: any room at all. */
export function fits(w: Win, own: Slot, amount: number): boolean {
  const room = Math.min(own.cap, w.limit) - own.used - w.held;
  return amount > 0 ? amount <= room + 1e-9 : room > 1e-9;
}

export function globalUsed(w: Win): number {
  let sum = 0;
  for (const s of w.slots.values()) sum += s.used;
  return sum;
}

export interface MergeResult {
  /** Our copy of a peer's slot changed (worth forwarding). */
  changed: boolean;
  /** Our own slot was bumped (we adopted a higher `used` from an earlier process with our name). */
  ownBumped: boolean;
  /** The slot now holds exactly the incoming version (its d and nx are the node's latest). */
  latest: boolean;
}

/** Merges one incoming slot of `node` as sent by `from`. */
export function mergeSlot(w: Win, self: string, from: string, node: string, inc: Slot): MergeResult {
  const none: MergeResult = { changed: false, ownBumped: false, latest: false };
  if (!Number.isFinite(inc.used) || !Number.isFinite(inc.cap) || !Number.isFinite(inc.ver)) return none;
  if (node === self) {
    // The sender's copy of our slot: an echo of our claims, or our own state from before a restart.
    const prev = w.echoes.get(from) ?? 0;
    if (inc.ver > prev) {
      w.echoes.set(from, inc.ver);
      if (Number.isFinite(inc.nx)) w.echoNx.set(from, inc.nx);
    }
    // Only `used` is adopted (grow-only); a cap is never taken back from an old copy, since a
    // released cap may already have been claimed by others.
    const own = w.slots.get(self);
    if (!own) return none;
    if (inc.a > own.a) own.a = inc.a;
    if (inc.used > own.used + 1e-9) {
      own.used = inc.used;
      own.cap = Math.max(own.cap, own.used);
      own.ver = Math.max(own.ver, inc.ver) + 1;
      return { changed: false, ownBumped: true, latest: false };
    }
    return none;
  }
  const cur = w.slots.get(node);
  let changed = false;
  if (!cur) {
    w.slots.set(node, { ...inc });
    changed = true;
  } else if (inc.ver > cur.ver) {
    cur.used = Math.max(cur.used, inc.used);
    cur.cap = inc.cap;
    cur.ver = inc.ver;
    cur.d = inc.d;
    cur.nx = inc.nx;
    cur.a = Math.max(cur.a, inc.a);
    changed = true;
  } else {
    if (inc.used > cur.used) {
      cur.used = inc.used;
      changed = true;
    }
    if (inc.a > cur.a) {
      cur.a = inc.a;
      changed = true;
    }
  }
  const latest = w.slots.get(node)!.ver === inc.ver && Number.isFinite(inc.d) && Number.isFinite(inc.nx);
  return { changed, ownBumped: false, latest };
}

/** A strict majority of the known cluster is reachable; an exact half wins when it holds the smallest name. */
export function hasMajority(self: string, peers: Iterable<PeerView>): boolean {
  let total = 1;
  let reachable = 1;
  let smallest = self;
  let smallestReachable = true;
  for (const p of peers) {
    total++;
    const ok = p.unreachableSince === 0;
    if (ok) reachable++;
    if (p.name < smallest) {
      smallest = p.name;
      smallestReachable = ok;
    }
  }
  return reachable * 2 > total || (reachable * 2 === total && smallestReachable);
}

/**
 * Peers whose echo a claim must wait for: all, except (on a majority side only) those unreachable for
 * at least `reclaimAfterMs`.
 */
export function requiredPeers<P extends PeerView>(
  self: string,
  peers: readonly P[],
  now: number,
  reclaimAfterMs: number,
): P[] {
  const majority = hasMajority(self, peers);
  return peers.filter(
    (p) => !(majority && p.unreachableSince > 0 && now - p.unreachableSince >= reclaimAfterMs),
  );
}

/**
 * Whether the claim rule lets us claim on `w` now: every required peer reachable (else we may be on a
 * minority side), every one has echoed our last claim in this window, and, in a window that began
 * before we started, every one has sent us its full state (it carries our old slot).
 */
export function mayClaim(w: Win, required: readonly PeerView[], startedAt: number): boolean {
  if (w.claimUnsent) return false;
  if (required.some((p) => p.unreachableSince > 0)) return false;
  if (w.lastClaimVer > 0) {
    for (const p of required) if ((w.echoes.get(p.name) ?? 0) < w.lastClaimVer) return false;
  } else if (w.ws < startedAt) {
    for (const p of required) if (!p.synced) return false;
  }
  return true;
}

/** limit − Σ max(cap, used) − what unreachable peers we stopped waiting for may have claimed unseen. */
export function pool(
  w: Win,
  peers: readonly PeerView[],
  required: ReadonlySet<string>,
  shareOf: (node: string) => number,
): number {
  let sum = 0;
  for (const s of w.slots.values()) sum += Math.max(s.used, s.cap);
  for (const p of peers) {
    if (required.has(p.name) || p.unreachableSince === 0 || w.ws > p.unreachableSince) continue;
    const slot = w.slots.get(p.name);
    // With a slot: its next claim is bounded by its nx. Without: its first claim in the window is
    // bounded by its demand share of the limit (with a margin for views of demand that differ).
    sum += slot ? slot.nx : Math.min(w.limit, (1.2 * shareOf(p.name) + 0.02) * w.limit);
  }
  return w.limit - sum;
}

export interface ClaimContext {
  self: string;
  /** Every known peer (not departed). */
  peers: readonly PeerView[];
  required: readonly PeerView[];
  /** What the request at hand needs (ahead of need: 1). */
  want: number;
  ahead: boolean;
  now: number;
  /** The window before this one, for the demand history. */
  prev?: Win;
  /** Average amount per request of this counter. */
  avgAmount: number;
  /** Published demand share of a node (for a peer we lost without a slot in this window). */
  shareOf: (node: string) => number;
}

/** How much we may add to our cap on `w` now (the claim rule of limiter.ts on this window's view). */
export function planClaim(w: Win, own: Slot, x: ClaimContext): { amount: number; beyondShare: boolean } {
  if (x.now >= w.we) return { amount: 0, beyondShare: false };
  const required = new Set(x.required.map((r) => r.name));
  const p = pool(w, x.peers, required, x.shareOf);
  if (p <= 1e-9) return { amount: 0, beyondShare: false };
  if (x.peers.length === 0) return { amount: p, beyondShare: false };
  // Never more than the bound every required peer holds for us: if it loses us right after this
  // claim, that bound is what it keeps reserved. What a node holds unused is lost for the rest of
  // the window if it dies, since nobody can tell it from a partitioned node.
  let bound = Math.max(own.nx, x.want);
  for (const r of x.required) {
    const e = w.echoNx.get(r.name);
    if (e !== undefined) bound = Math.min(bound, Math.max(e, 1e-9));
  }
  const prev = x.prev;
  const nodes: SlotView[] = [
    {
      name: x.self,
      used: own.used + w.held,
      cap: own.cap,
      asked: w.sentA,
      history: prev?.slots.get(x.self)?.a,
    },
  ];
  // Demand history: what each peer was asked in the last window, spread over this one. With no
  // history (a key's first window) a peer not yet asked keeps its entitlement until the cluster
  // has seen as many requests as it has nodes: a balancer's first round reaches every node.
  const left = 1 - (x.now - w.ws) / Math.max(1, w.we - w.ws);
  let total = own.a;
  for (const q of x.peers) total += w.slots.get(q.name)?.a ?? 0;
  const firstRound = total < (x.peers.length + 1) * (w.integer ? 1 : x.avgAmount);
  for (const q of x.peers) {
    const s = w.slots.get(q.name);
    const asked = s?.a ?? 0;
    let expect = 0;
    // A peer we stopped waiting for before this window began claims nothing in it (a minority side
    // claims nothing new): nothing is kept back for what its history says it would be asked.
    const gone = !required.has(q.name) && q.unreachableSince > 0 && w.ws > q.unreachableSince;
    if (gone) expect = 0;
    else if (prev) expect = (prev.slots.get(q.name)?.a ?? 0) * left;
    else if (asked === 0 && firstRound) expect = Number.POSITIVE_INFINITY;
    nodes.push({
      name: q.name,
      used: s?.used ?? 0,
      cap: s?.cap ?? 0,
      asked,
      expect,
      history: prev?.slots.get(q.name)?.a,
    });
  }
  return claimAmount({
    self: x.self,
    limit: w.limit,
    nodes,
    pool: p,
    want: x.want,
    bound,
    elapsed: Math.min(1, Math.max(1e-3, (x.now - w.ws) / Math.max(1, w.we - w.ws))),
    integer: w.integer,
    ahead: x.ahead,
  });
}

/** Raises our cap by `amount`; with peers, the claim must be echoed before the next one. */
export function applyClaim(w: Win, own: Slot, amount: number, hasPeers: boolean): void {
  own.cap = Math.max(own.cap, own.used) + amount;
  own.ver++;
  w.ownChanged = true;
  if (hasPeers) {
    w.lastClaimVer = own.ver;
    w.claimUnsent = true;
  }
}

/**
 * Lowers our cap to `keep` when a peer with demand is short (its cap nearly used); always safe.
 * Returns whether it did.
 */
export function release(w: Win, self: string, keep: number, demandOf: (node: string) => number): boolean {
  const own = w.slots.get(self);
  if (!own || own.cap <= keep) return false;
  let peerWants = false;
  for (const [node, s] of w.slots) {
    if (node === self) continue;
    if (demandOf(node) > 0 && s.cap - s.used < Math.max(1, s.cap * 0.2)) {
      peerWants = true;
      break;
    }
  }
  if (!peerWants) return false;
  own.cap = keep;
  own.ver++;
  w.ownChanged = true;
  w.urgent = true;
  return true;
}

export function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Order-independent hash of every slot of a window as sent on the wire (anti-entropy digest). */
export function digestOf(w: Win): number {
  let h = 0;
  for (const [node, s] of w.slots) {
    const str = `${node}|${s.ver}|${round(s.used)}|${round(s.cap)}|${round(s.a)}`;
    let x = 0x811c9dc5;
    for (let i = 0; i < str.length; i++) x = Math.imul(x ^ str.charCodeAt(i), 0x01000193);
    h = (h + (x >>> 0)) >>> 0;
  }
  return h;
}
