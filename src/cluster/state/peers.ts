import type { MemberInfo, MemberState } from './gossip.js';
import type { PeerView } from './window.js';

/**
 * Who the counters share a window with, from the membership layer's view: a
 * peer is unreachable while membership calls it suspect or dead (the counters
 * keep no failure detector of their own), forgotten when it left, when
 * membership stops listing it, or (majority side only, by the caller) after a
 * long absence.
 */

export interface Peer extends PeerView {
  /** The peer's process start time as it announced it (a new value = a restarted peer). */
  h: number;
  state: MemberState;
  /** Listed by membership at the last refresh. */
  listed: boolean;
  /** When membership stopped listing it (0 while listed). */
  unlistedSince: number;
}

export interface PeerChanges {
  /** Peers membership lists that we did not know (we say hello: they send us their state if we are new). */
  added: string[];
  /** Peers reachable again after being unreachable (we send them our full state). */
  back: string[];
}

const UNREACHABLE: ReadonlySet<MemberState> = new Set(['suspect', 'dead']);

export class PeerTracker {
  readonly peers = new Map<string, Peer>();
  private list: Peer[] = [];
  private listDirty = true;

  constructor(
    private readonly o: {
      /** Not listed by membership this long: forgotten. */
      unlistedGraceMs: number;
    },
  ) {}

  get size(): number {
    return this.peers.size;
  }

  /** Every known peer, as an array (cached until the set changes). */
  all(): readonly Peer[] {
    if (this.listDirty) {
      this.list = [...this.peers.values()];
      this.listDirty = false;
    }
    return this.list;
  }

  private create(name: string, state: MemberState, listed: boolean): Peer {
    const p: Peer = { name, h: 0, synced: false, state, unreachableSince: 0, listed, unlistedSince: 0 };
    this.peers.set(name, p);
    this.listDirty = true;
    return p;
  }

  /** Applies membership's current view. */
  refresh(self: string, members: readonly MemberInfo[], now: number): PeerChanges {
    const out: PeerChanges = { added: [], back: [] };
    const listed = new Set<string>();
    for (const m of members) {
      if (m.name === self) continue;
      // Only members that run DeepIntShield take part (a serf agent in the cluster never answers).
      if (m.tags && m.tags.http === undefined && !this.peers.has(m.name)) continue;
      listed.add(m.name);
      let p = this.peers.get(m.name);
      // A dead or departed member we do not track (or have forgotten) is not brought back by the list.
      if (!p && (m.state === 'dead' || m.state === 'left')) continue;
      if (!p) {
        p = this.create(m.name, m.state, true);
        out.added.push(m.name);
      }
      p.state = m.state;
      p.listed = true;
      p.unlistedSince = 0;
    }
    for (const p of this.peers.values()) {
      if (!listed.has(p.name) && p.listed) {
        p.listed = false;
        p.unlistedSince = now;
      }
      const unreachable = UNREACHABLE.has(p.state);
      if (unreachable && p.unreachableSince === 0) p.unreachableSince = now;
      if (!unreachable && p.unreachableSince !== 0) {
        p.unreachableSince = 0;
        out.back.push(p.name);
      }
    }
    return out;
  }

  /** A message from `name` (process start `h`); returns the peer and whether it restarted (or is new to us). */
  heard(name: string, h: number | undefined, now: number): { peer: Peer; restarted: boolean } {
    let peer = this.peers.get(name);
    if (!peer) {
      // Known from a message only: forgotten unless membership lists it soon (a forged name never blocks claims for long).
      peer = this.create(name, 'alive', false);
      peer.unlistedSince = now;
    }
    const restarted = typeof h === 'number' && h !== peer.h;
    if (typeof h === 'number') peer.h = h;
    return { peer, restarted };
  }

  /** Peers to forget now: departed, no longer listed for a while, or (when `longGoneMs` is set) unreachable that long. */
  toForget(now: number, longGoneMs: number | undefined): Peer[] {
    const out: Peer[] = [];
    for (const p of this.peers.values()) {
      const gone =
        p.state === 'left' ||
        (!p.listed && p.unlistedSince > 0 && now - p.unlistedSince > this.o.unlistedGraceMs) ||
        (longGoneMs !== undefined && p.unreachableSince > 0 && now - p.unreachableSince > longGoneMs);
      if (gone) out.push(p);
    }
    return out;
  }

  forget(name: string): void {
    if (this.peers.delete(name)) this.listDirty = true;
  }

  /** Peers we can send to (membership has not declared them dead or departed). */
  sendable(): Peer[] {
    return this.all().filter((p) => p.state !== 'dead' && p.state !== 'left');
  }

  /** Up to `k` distinct random sendable peers. */
  pick(k: number, random: () => number): Peer[] {
    const c = this.sendable();
    if (c.length <= k) return c;
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(random() * (c.length - i));
      [c[i], c[j]] = [c[j]!, c[i]!];
    }
    return c.slice(0, k);
  }
}
