import type { MemberInfo, MemberState } from './gossip.js';

/** One counter peer as this node sees it. */
export interface Peer {
  name: string;
  /** The peer's process start time as it announced it (a new value = a restarted peer). */
  h: number;
  /** Sent us its full state since we started (needed before claiming in a window we joined late). */
  synced: boolean;
  state: MemberState;
  lastHeard: number;
  /** When it became unreachable (silent or dead), 0 while reachable. */
  unreachableSince: number;
  listed: boolean;
  /** When we last answered its echo request at once (the counters bound how often). */
  lastEchoAt: number;
  /** When we last sent it our full state (a request for it is answered at most once a second). */
  lastFullAt: number;
  /** Membership's state as last listed: a change of it, not our own override on hearing, moves `state`. */
  listedState: MemberState | undefined;
  /** Since when an echo we asked it for is outstanding: unanswered for long, it is unreachable. */
  askedSince: number | undefined;
  /** Until it has sent us its full state: when we last asked for it, and the gap before we ask again. */
  helloAt: number;
  helloGapMs: number;
}

export interface PeerTrackerOptions {
  /** A peer that leaves an echo request unanswered this long counts as unreachable. */
  unresponsiveMs: number;
  /** A majority side stops waiting for an unreachable peer after this long. */
  reclaimAfterMs: number;
  /** An unreachable peer is forgotten after this long (majority side only). */
  forgetAfterMs: number;
}

/** A peer that has not sent its full state is asked again after 250 ms, then 0.5, 1, 2, 4, 5, 5… s. */
const HELLO_FIRST_MS = 250;
const HELLO_MAX_MS = 5000;

function newPeer(name: string, state: MemberState, now: number, listed: boolean): Peer {
  return {
    name,
    h: 0,
    synced: false,
    state,
    lastHeard: now,
    unreachableSince: 0,
    listed,
    lastEchoAt: 0,
    lastFullAt: Number.NEGATIVE_INFINITY,
    listedState: listed ? state : undefined,
    askedSince: undefined,
    helloAt: Number.NEGATIVE_INFINITY,
    helloGapMs: 0,
  };
}

/**
 * The counters' peers: who takes part (from the membership list and from what we hear), who is
 * reachable, whether this node is on a majority side, and whose echo a claim must wait for.
 *
 * Reachability comes from membership's failure detector (a suspect or dead member), and from our own
 * asks: a peer that leaves an echo request unanswered for `unresponsiveMs` is unreachable whatever
 * membership says. Hearing from a peer makes it reachable until membership's view of it changes
 * again. There is no heartbeat of our own: an idle cluster sends no counter traffic at all.
 */
export class PeerTracker {
  private readonly peers = new Map<string, Peer>();
  private gen = 0;

  constructor(private readonly o: PeerTrackerOptions) {}

  /**
   * Changes whenever the peers whose echo a claim waits for may have grown: a peer added or removed,
   * or one that became reachable or unreachable (majority and waivers follow). Time alone only waives
   * more peers, which shrinks the set.
   */
  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.peers.size;
  }

  get(name: string): Peer | undefined {
    return this.peers.get(name);
  }

  values(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** A message from `name` arrived: it is reachable and alive; returns its entry. */
  heard(name: string, now: number): Peer {
    let p = this.peers.get(name);
    if (!p) {
      p = newPeer(name, 'alive', now, false);
      this.peers.set(name, p);
      this.gen++;
    }
    p.lastHeard = now;
    p.askedSince = undefined;
    if (p.unreachableSince !== 0) this.gen++;
    p.unreachableSince = 0;
    if (p.state === 'dead' || p.state === 'suspect') p.state = 'alive';
    return p;
  }

  /** We sent `name` a message that asks for its echo. */
  asked(p: Peer, now: number): void {
    p.askedSince ??= now;
  }

  /**
   * Peers to ask for their full state now: listed, believed alive, not yet synced, at a backoff.
   * A peer that (re)started is greeted by every other node this way; there is no periodic message.
   */
  toGreet(now: number): Peer[] {
    const out: Peer[] = [];
    for (const p of this.peers.values()) {
      if (p.synced || !p.listed || p.state !== 'alive' || now - p.helloAt < p.helloGapMs) continue;
      p.helloAt = now;
      p.helloGapMs = Math.min(HELLO_MAX_MS, Math.max(HELLO_FIRST_MS, p.helloGapMs * 2));
      out.push(p);
    }
    return out;
  }

  /**
   * Brings the peers up to date with the membership list (undefined: no cluster) and the clock, and
   * forgets the ones that are gone; `onForget` is called for each.
   */
  refresh(
    self: string,
    now: number,
    members: MemberInfo[] | undefined,
    onForget: (name: string) => void,
  ): void {
    const listed = new Set<string>();
    if (members) {
      for (const m of members) {
        if (m.name === self) continue;
        // Only members that run DeepIntShield take part (a serf agent in the cluster never answers).
        if (m.tags && m.tags.http === undefined && !this.peers.has(m.name)) continue;
        listed.add(m.name);
        let p = this.peers.get(m.name);
        // A dead or departed member we do not track (or have forgotten) is not brought back by the list.
        if (!p && (m.state === 'dead' || m.state === 'left')) continue;
        if (!p) {
          p = newPeer(m.name, m.state, now, true);
          this.peers.set(m.name, p);
          this.gen++;
        } else if (p.listedState !== m.state) {
          p.listedState = m.state;
          p.state = m.state;
        }
        p.listed = true;
      }
    }
    for (const p of this.peers.values()) {
      if (!listed.has(p.name)) p.listed = false;
      const unreachable =
        p.state === 'dead' ||
        p.state === 'suspect' ||
        (p.askedSince !== undefined && now - p.askedSince > this.o.unresponsiveMs);
      if (unreachable !== p.unreachableSince > 0) this.gen++;
      if (unreachable && p.unreachableSince === 0) p.unreachableSince = now;
      if (!unreachable) p.unreachableSince = 0;
    }
    // Forget: nodes that left (their unused caps are released), nodes the membership layer dropped,
    // and, on a majority side only, nodes unreachable for forgetAfterMs.
    const majority = this.hasMajority(self);
    for (const p of [...this.peers.values()]) {
      const gone =
        p.state === 'left' ||
        (members !== undefined && !p.listed && now - p.lastHeard > this.o.unresponsiveMs) ||
        (majority && p.unreachableSince > 0 && now - p.unreachableSince > this.o.forgetAfterMs);
      if (gone) {
        this.peers.delete(p.name);
        this.gen++;
        onForget(p.name);
      }
    }
  }

  /** A strict majority of the known cluster is reachable; an exact half wins when it holds the smallest name. */
  hasMajority(self: string): boolean {
    let total = 1;
    let reachable = 1;
    let smallest = self;
    let smallestReachable = true;
    for (const p of this.peers.values()) {
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

  /** Peers whose echo a claim must wait for: all but those a majority side has waived. */
  required(self: string, now: number): Peer[] {
    const majority = this.hasMajority(self);
    const out: Peer[] = [];
    for (const p of this.peers.values()) {
      const waivable =
        majority && p.unreachableSince > 0 && now - p.unreachableSince >= this.o.reclaimAfterMs;
      if (!waivable) out.push(p);
    }
    return out;
  }
}
