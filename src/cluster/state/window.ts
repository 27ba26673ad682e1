import type { WireSlot, WireWin } from './wire.js';

/**
 * One (counter, window) as a node knows it: a slot per node, and the state of
 * this node's claims on it. The merge rules of peers' slots live here; the claim
 * protocol that changes our own slot is in claims.ts, the claim rule in limiter.ts.
 */

export interface Slot {
  /** What the slot's node admitted (grow-only: merge = max). */
  used: number;
  /** What the slot's node claimed of the limit; it admits only while used < cap. */
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
  /** Our slot changed in a way peers need soon (a claim, a release, an echo owed): sent at the next flush. */
  dirty: boolean;
  /**
   * Our slot changed only in what it counts (used, asked, demand): sent to every peer at most every
   * `minorGapMs`, which grows with the cluster so that a node's counter traffic stays bounded.
   * Safety rests on caps alone, and a cap change is never minor.
   */
  minor: boolean;
  ackReq: boolean;
  /** Peers whose echo request we put off to the next flush: that flush carries their slots beside ours. */
  echoOwed: Set<string> | undefined;
  /** Own slot version at the last claim (0: never claimed in this window). */
  lastClaimVer: number;
  /** A claim made since the last send: no second claim until it is sent. */
  claimUnsent: boolean;
  lastSentAt: number;
  /** Last time our slot went again to the peers that had not echoed the claim. */
  reaskedAt: number;
  /** Claim version (and peer generation) every required peer was last found to have echoed: no re-ask walk. */
  echoedAllVer: number;
  echoedAllGen: number;
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
  /**
   * Part of our cap taken from idle peers' shares, not usable until every required peer has echoed the
   * claim (version `ver`): the owner may have claimed the same units in a message we have not seen
   * (lost, or in flight). Its echo carries its slot, so on confirmation we see any such claim and
   * give back what both took.
   */
  borrow: { amount: number; ver: number } | undefined;
  /** Requests waiting for the borrow to be confirmed (see claimsSettled). */
  waiters: (() => void)[];
}

export function windowId(key: string, ws: number): string {
  return `${key}@${ws}`;
}

export function newWindow(key: string, ws: number, we: number, limit: number): Win {
  return {
    id: windowId(key, ws),
    key,
    ws,
    we,
    limit,
    slots: new Map(),
    dirty: false,
    minor: false,
    echoOwed: undefined,
    ackReq: false,
    lastClaimVer: 0,
    claimUnsent: false,
    lastSentAt: 0,
    reaskedAt: 0,
    echoedAllVer: 0,
    echoedAllGen: -1,
    sentA: 0,
    echoes: new Map(),
    echoNx: new Map(),
    active: false,
    integer: false,
    held: 0,
    borrow: undefined,
    waiters: [],
  };
}

/** Whether `peer` has echoed our slot of `w` at version `ver` or later. */
export function echoedBy(w: Win, peer: string, ver: number): boolean {
  return (w.echoes.get(peer) ?? 0) >= ver;
}

/** Fraction of `w` gone at `now`, in [0.001, 1] (never 0: rates are extrapolated by dividing by it). */
export function elapsedFraction(w: Win, now: number): number {
  return Math.min(1, Math.max(1e-3, (now - w.ws) / Math.max(1, w.we - w.ws)));
}

/** What the whole cluster admitted in `w`, as far as this node knows. */
export function globalUsed(w: Win): number {
  let sum = 0;
  for (const s of w.slots.values()) sum += s.used;
  return sum;
}

/** What we may admit against: our cap without a borrow still being confirmed. */
export function usableCap(w: Win, own: Slot): number {
  return Math.min(own.cap - (w.borrow?.amount ?? 0), w.limit);
}

/** Our usable cap has room for `amount` (0: for anything at all). */
export function fits(w: Win, own: Slot, amount: number): boolean {
  const room = usableCap(w, own) - own.used - w.held;
  return amount > 0 ? amount <= room + 1e-9 : room > 1e-9;
}

/**
 * Merges a peer's copy of a third node's slot (never ours: see the echo handling in merge.ts).
 * `used` and `a` only grow; the rest is taken from the newest version. Returns true when `inc` is the
 * version now held, so its demand figures are current.
 */
export function mergePeerSlot(w: Win, node: string, inc: Slot): boolean {
  const cur = w.slots.get(node);
  if (!cur) {
    w.slots.set(node, { ...inc });
    return true;
  }
  if (inc.ver > cur.ver) {
    cur.used = Math.max(cur.used, inc.used);
    cur.cap = inc.cap;
    cur.ver = inc.ver;
    cur.d = inc.d;
    cur.nx = inc.nx;
    cur.a = Math.max(cur.a, inc.a);
    return true;
  }
  if (inc.used > cur.used) cur.used = inc.used;
  if (inc.a > cur.a) cur.a = inc.a;
  return cur.ver === inc.ver;
}

/**
 * A window on the wire. Changes and claims carry `self`'s slot only: every node sends its own to every
 * peer, so nothing needs relaying, and a message's size does not grow with the cluster. An echo adds
 * the claimers' slots as we hold them (`also`: their version is what confirms their claim); our own
 * slot, as it is after we saw the claim, is what a claimer needs. A claim on the same units by a third
 * node reaches the claimer in that node's own echo, since a claim waits for every required peer's.
 * Full state (`all`) carries every slot we know, for a peer that (re)started.
 */
export function toWire(w: Win, self: string, ackReq: boolean, also?: ReadonlySet<string> | 'all'): WireWin {
  const slots: WireSlot[] = [];
  for (const [node, s] of w.slots)
    if (node === self || also === 'all' || also?.has(node))
      slots.push([node, round(s.used), round(s.cap), s.ver, round(s.d), round(s.nx), round(s.a)]);
  return [w.key, w.ws, w.we, ackReq ? 1 : 0, slots];
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
