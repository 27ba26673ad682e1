import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { GossipChannel } from '../state/gossip.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** One circuit's shared record. `model` is '' for the whole key. */
export interface Circuit {
  provider: string;
  key: string;
  model: string;
  /** 'open' until `until`, then half-open (derived, never stored). */
  state: 'closed' | 'open';
  version: number;
  until: number;
  /** How many times in a row it opened (the open time doubles with each, capped). */
  trips: number;
  by: string;
  reason: string;
}

export interface CircuitOptions {
  /** This node's cluster name (known only once the cluster is attached, hence a function). */
  nodeName: () => string;
  /** Gateway nodes alive now (the half-open probe owner is chosen among them). */
  liveNodes: () => readonly string[];
  now?: () => number;
  /** Hard failures in a row that open a circuit. */
  consecutiveFailures?: number;
  baseOpenMs?: number;
  maxOpenMs?: number;
  /** How long one node holds the half-open probe before the next one may try. */
  probeSlotMs?: number;
  onChange?: (c: Circuit) => void;
}

const name = z.string().min(1).max(128);
const wireSchema = z
  .array(
    z.tuple([
      name,
      name,
      z.string().max(128),
      z.enum(['closed', 'open']),
      z.number().int().min(0),
      z.number().finite().min(0),
      z.number().int().min(0).max(64),
      name,
      z.string().max(64),
    ]),
  )
  .max(256);

const MAX_CIRCUITS = 4096;
/** The reason of a circuit re-published open while one node's half-open probe is in flight. */
export const PROBING = 'probing';

/**
 * Circuit breakers per key and per (key, model), shared by the cluster. A
 * node that sees `consecutiveFailures` hard failures in a row (5xx, timeout,
 * connect) opens the circuit and broadcasts it; every node adopts the record
 * with the highest (version, open-before-closed, until, node) so all agree.
 * When the open time ends the circuit is half-open: exactly one node (chosen
 * by rendezvous hashing over the live nodes, rotating every probe slot so a
 * silent owner does not keep it stuck) sends one request to it; success
 * closes it for everyone, failure reopens it for twice as long.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly failures = new Map<string, number>();
  private readonly probing = new Map<string, number>();
  private channel: GossipChannel | undefined;
  private readonly now: () => number;
  private readonly threshold: number;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;
  private readonly probeSlotMs: number;

  constructor(private readonly opts: CircuitOptions) {
    this.now = opts.now ?? Date.now;
    this.threshold = opts.consecutiveFailures ?? 3;
    this.baseOpenMs = opts.baseOpenMs ?? 1000;
    this.maxOpenMs = opts.maxOpenMs ?? 5000;
    this.probeSlotMs = opts.probeSlotMs ?? 3000;
  }

  attach(channel: GossipChannel): void {
    this.channel = channel;
    channel.onMessage((buf) => this.mergeWire(buf));
    channel.onRemoteState((buf) => this.mergeWire(buf));
    channel.setLocalState(() =>
      encode([...this.circuits.values()].filter((c) => c.state === 'open' || c.trips > 0)),
    );
  }

  /**
   * Whether this node may send to (provider, key, model) now: closed, or
   * half-open with this node as the probe owner and no probe in flight.
   * A true answer on a half-open circuit claims the probe.
   */
  allow(provider: string, key: string, model: string): boolean {
    const scopes = [id(provider, key, ''), id(provider, key, model)];
    const states = scopes.map((sc) => this.stateOf(this.circuits.get(sc)));
    if (states.includes('open')) return false;
    if (!states.includes('half_open')) return true;
    // Half-open: one probe, by this slot's owner. A probe in flight leased its circuits (open again), so
    // reaching here means none is.
    const t = this.now();
    if (this.probeOwner(provider, key, t) !== this.opts.nodeName()) return false;
    for (let i = 0; i < scopes.length; i++) if (states[i] === 'half_open') this.leaseProbe(scopes[i]!, t);
    return true;
  }

  /** Like allow() but claims nothing (for views and scoring). */
  state(provider: string, key: string, model: string): CircuitState {
    const a = this.stateOf(this.circuits.get(id(provider, key, '')));
    const b = this.stateOf(this.circuits.get(id(provider, key, model)));
    if (a === 'open' || b === 'open') return 'open';
    if (a === 'half_open' || b === 'half_open') return 'half_open';
    return 'closed';
  }

  /** Like state(), but for people (status): a circuit leased by a probe in flight is half-open. */
  shownState(provider: string, key: string, model: string): CircuitState {
    const a = this.shown(this.circuits.get(id(provider, key, '')));
    const b = this.shown(this.circuits.get(id(provider, key, model)));
    if (a === 'open' || b === 'open') return 'open';
    if (a === 'half_open' || b === 'half_open') return 'half_open';
    return 'closed';
  }

  /** Learns from one attempt: `hard` is a failure that says the key is unwell; undefined = neutral (client fault, 429). */
  record(provider: string, key: string, model: string, outcome: 'ok' | 'hard' | 'neutral'): void {
    if (outcome === 'neutral') return;
    for (const scope of [id(provider, key, model), id(provider, key, '')]) {
      const probe = this.probing.get(scope);
      this.probing.delete(scope);
      const c = this.circuits.get(scope);
      if (outcome === 'ok') {
        this.failures.delete(scope);
        if (c && (c.state === 'open' || c.trips > 0) && (probe !== undefined || this.stateOf(c) !== 'open'))
          this.set({
            ...c,
            state: 'closed',
            version: Math.max(c.version + 1, this.now()),
            until: 0,
            trips: 0,
            by: this.opts.nodeName(),
            reason: 'probe succeeded',
          });
        continue;
      }
      if (c && c.state === 'open' && probe !== undefined) {
        this.trip(provider, key, scope === id(provider, key, '') ? '' : model, 'probe failed', c);
        continue;
      }
      if (c && c.state === 'open') continue;
      const n = (this.failures.get(scope) ?? 0) + 1;
      if (n >= this.threshold) {
        this.failures.delete(scope);
        this.trip(provider, key, scope === id(provider, key, '') ? '' : model, `${n} failures in a row`, c);
      } else {
        if (this.failures.size >= MAX_CIRCUITS) this.failures.clear();
        this.failures.set(scope, n);
      }
    }
  }

  /** Opens a circuit from the cluster-wide stats (error rate over the window). */
  openFromStats(provider: string, key: string, model: string, reason: string): void {
    const scope = id(provider, key, model);
    const c = this.circuits.get(scope);
    if (c && c.state === 'open') return;
    this.trip(provider, key, model, reason, c);
  }

  /** Epoch ms of the last close of this circuit (0 if never): stats from before it are stale. */
  closedAt(provider: string, key: string, model: string): number {
    let at = 0;
    for (const scope of [id(provider, key, model), id(provider, key, '')]) {
      const c = this.circuits.get(scope);
      if (c && c.state === 'closed') at = Math.max(at, c.version);
    }
    return at;
  }

  /**
   * Every circuit with the state it is in for people (metrics, status): a circuit leased by a probe in
   * flight is half-open, though it refuses traffic like an open one (allow() and state() say open).
   */
  all(): (Circuit & { effective: CircuitState })[] {
    return [...this.circuits.values()].map((c) => ({ ...c, effective: this.shown(c) }));
  }

  private shown(c: Circuit | undefined): CircuitState {
    const s = this.stateOf(c);
    return s === 'open' && c?.reason === PROBING ? 'half_open' : s;
  }

  /**
   * Claims the probe cluster-wide: the circuit is published open again for one
   * probe slot, so no other node probes while this one's probe is in flight
   * (the owner rotates each slot, and a probe into a hanging upstream outlives
   * the slot it began in). Its outcome closes or re-trips the circuit; if this
   * node goes silent, the lease runs out and the next slot's owner probes.
   */
  private leaseProbe(scope: string, t: number): void {
    this.probing.set(scope, t);
    const c = this.circuits.get(scope);
    if (!c) return;
    this.set({
      ...c,
      version: Math.max(c.version + 1, t),
      until: t + this.probeSlotMs,
      by: this.opts.nodeName(),
      reason: PROBING,
    });
  }

  /**
   * The node allowed to probe a key's half-open circuits now: rendezvous hash
   * of (key, time slot) over the live nodes, so every node names the same one
   * and the role moves on each slot (an owner with no traffic for the key
   * does not keep it stuck).
   */
  probeOwner(provider: string, key: string, t: number): string | undefined {
    const slot = Math.floor(t / this.probeSlotMs);
    let best: string | undefined;
    let bestScore = -1;
    for (const n of this.opts.liveNodes()) {
      const h = createHash('sha1').update(`${provider}\u0000${key}\u0000${slot}\u0000${n}`).digest();
      const score = h.readUInt32BE(0);
      if (score > bestScore || (score === bestScore && best !== undefined && n < best)) {
        best = n;
        bestScore = score;
      }
    }
    return best;
  }

  private stateOf(c: Circuit | undefined): CircuitState {
    if (!c || c.state === 'closed') return 'closed';
    return this.now() < c.until ? 'open' : 'half_open';
  }

  private trip(
    provider: string,
    key: string,
    model: string,
    reason: string,
    prev: Circuit | undefined,
  ): void {
    const trips = Math.min(16, (prev?.trips ?? 0) + 1);
    const openMs = Math.min(this.maxOpenMs, this.baseOpenMs * 2 ** (trips - 1));
    this.set({
      provider,
      key,
      model,
      state: 'open',
      version: Math.max((prev?.version ?? 0) + 1, this.now()),
      until: this.now() + openMs,
      trips,
      by: this.opts.nodeName(),
      reason,
    });
  }

  private set(c: Circuit): void {
    const scope = id(c.provider, c.key, c.model);
    if (!this.circuits.has(scope) && this.circuits.size >= MAX_CIRCUITS) return;
    this.circuits.set(scope, c);
    this.opts.onChange?.(c);
    try {
      this.channel?.broadcast(encode([c]), `circuit:${scope}`);
    } catch {
      // not started yet: push/pull carries it later
    }
  }

  private mergeWire(buf: Buffer): void {
    let raw: unknown;
    try {
      raw = JSON.parse(buf.toString('utf8'));
    } catch {
      return;
    }
    const r = wireSchema.safeParse(raw);
    if (!r.success) return;
    for (const t of r.data) {
      const c: Circuit = {
        provider: t[0],
        key: t[1],
        model: t[2],
        state: t[3],
        version: t[4],
        until: t[5],
        trips: t[6],
        by: t[7],
        reason: t[8],
      };
      const scope = id(c.provider, c.key, c.model);
      const cur = this.circuits.get(scope);
      if (cur && !newer(c, cur)) continue;
      if (!cur && this.circuits.size >= MAX_CIRCUITS) continue;
      this.circuits.set(scope, c);
      this.probing.delete(scope);
      this.failures.delete(scope);
      this.opts.onChange?.(c);
    }
  }
}

/** Versions are epoch ms of the transition (monotonic per circuit), so every node orders records alike. */
function newer(a: Circuit, b: Circuit): boolean {
  if (a.version !== b.version) return a.version > b.version;
  if (a.state !== b.state) return a.state === 'open';
  if (a.until !== b.until) return a.until > b.until;
  return a.by > b.by;
}

function encode(list: Circuit[]): Buffer {
  return Buffer.from(
    JSON.stringify(
      list
        .slice(0, 256)
        .map((c) => [
          c.provider,
          c.key,
          c.model,
          c.state,
          c.version,
          c.until,
          c.trips,
          c.by,
          c.reason.slice(0, 64),
        ]),
    ),
  );
}

function id(provider: string, key: string, model: string): string {
  return `${provider}\u0000${key}\u0000${model}`;
}
