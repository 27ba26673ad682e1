import { type CountersOptions, DistributedCounters } from '../../../src/cluster/state/counters.js';
import type { ClusterLike, GossipChannel, MemberInfo } from '../../../src/cluster/state/gossip.js';

/**
 * A deterministic in-memory gossip network on a simulated clock: direct
 * messages arrive after a seeded random latency, broadcasts reach every
 * connected node, partitions and killed nodes drop traffic, and members()
 * reports peers we cannot reach as suspect after `detectMs` and dead after 3 × `detectMs`.
 */
export class FakeNetwork {
  now = 0;
  private seed: number;
  private readonly queue: { at: number; to: string; ch: number; payload: Buffer; from: string }[] = [];
  readonly nodes = new Map<string, FakeCluster>();
  /** Groups that can talk; nodes in different groups cannot. */
  private group = new Map<string, number>();
  readonly killed = new Set<string>();
  /** Members listed by membership that are not DeepIntShield nodes (e.g. a serf agent). */
  readonly foreignMembers: MemberInfo[] = [];
  private cutSince = new Map<string, number>();
  /** Drops the datagrams it returns true for (a chosen loss, beside the random `lossRate`). */
  drop: ((from: string, to: string) => boolean) | undefined;

  constructor(
    opts: { seed?: number; latencyMs?: [number, number]; detectMs?: number; lossRate?: number } = {},
    readonly latency: [number, number] = opts.latencyMs ?? [1, 5],
    readonly detectMs = opts.detectMs ?? 1000,
    readonly lossRate = opts.lossRate ?? 0,
  ) {
    this.seed = opts.seed ?? 42;
  }

  random(): number {
    // mulberry32
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  add(name: string): FakeCluster {
    const c = new FakeCluster(this, name);
    this.nodes.set(name, c);
    this.group.set(name, 0);
    return c;
  }

  /** A counters node on this network's clock, joined to it; the test drives its ticks (see `run`). */
  counterNode(name: string, opts: CountersOptions = {}): DistributedCounters {
    const c = new DistributedCounters({ nodeName: name, now: () => this.now, timers: false, ...opts });
    c.attachCluster(this.add(name));
    return c;
  }

  /**
   * Runs `ms` of virtual time in 1 ms steps. Each step delivers what is due, calls `each(t)` (t counts
   * from 0), ticks node i when (t + i × `stagger`) is a multiple of 50 ms, and advances the clock.
   */
  run(nodes: readonly { tick(): void }[], ms: number, each?: (t: number) => void, stagger = 0): void {
    for (let t = 0; t < ms; t++) {
      this.deliver();
      each?.(t);
      for (let i = 0; i < nodes.length; i++) if ((t + i * stagger) % 50 === 0) nodes[i]!.tick();
      this.now++;
    }
  }

  canTalk(a: string, b: string): boolean {
    if (this.killed.has(a) || this.killed.has(b)) return false;
    return this.group.get(a) === this.group.get(b);
  }

  partition(groups: string[][]): void {
    groups.forEach((g, i) => {
      for (const n of g) this.group.set(n, i + 1);
    });
    for (const a of this.nodes.keys())
      for (const b of this.nodes.keys()) if (!this.canTalk(a, b)) this.cutSince.set(`${a}|${b}`, this.now);
  }

  heal(): void {
    for (const n of this.nodes.keys()) this.group.set(n, 0);
    this.cutSince.clear();
  }

  kill(name: string): void {
    this.killed.add(name);
    for (const b of this.nodes.keys()) {
      this.cutSince.set(`${b}|${name}`, this.now);
    }
  }

  members(self: string): MemberInfo[] {
    const out: MemberInfo[] = [...this.foreignMembers];
    for (const n of this.nodes.keys()) {
      if (n === self) {
        out.push({ name: n, state: 'alive', tags: { http: 'x' } });
        continue;
      }
      const since = this.cutSince.get(`${self}|${n}`);
      const cut = !this.canTalk(self, n);
      // As memberlist's detector: suspect first, dead after the suspicion timeout.
      const down = cut && since !== undefined ? this.now - since : -1;
      out.push({
        name: n,
        state: down >= 3 * this.detectMs ? 'dead' : down >= this.detectMs ? 'suspect' : 'alive',
      });
    }
    return out;
  }

  send(from: string, to: string, ch: number, payload: Buffer): void {
    if (!this.canTalk(from, to)) return;
    if (this.drop?.(from, to)) return;
    if (this.lossRate > 0 && this.random() < this.lossRate) return;
    const [lo, hi] = this.latency;
    this.queue.push({ at: this.now + lo + this.random() * (hi - lo), to, ch, payload, from });
  }

  /** Delivers every message due by `now`. */
  deliver(): void {
    this.queue.sort((a, b) => a.at - b.at);
    while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
      const m = this.queue.shift()!;
      if (!this.canTalk(m.from, m.to)) continue;
      this.nodes.get(m.to)?.deliver(m.ch, m.payload, m.from);
    }
  }

  /** Push/pull state exchange between every pair that can talk (as on join). */
  pushPull(): void {
    for (const a of this.nodes.values())
      for (const b of this.nodes.values())
        if (a !== b && this.canTalk(a.localName, b.localName)) a.pullFrom(b);
  }
}

interface FakeChannel extends GossipChannel {
  handlers: ((p: Buffer, from?: string) => void)[];
  state?: () => Buffer;
  stateHandlers: ((b: Buffer, join: boolean) => void)[];
}

export class FakeCluster implements ClusterLike {
  private readonly channels = new Map<number, FakeChannel>();

  constructor(
    private readonly net: FakeNetwork,
    readonly localName: string,
  ) {}

  channel(id: number): GossipChannel {
    let ch = this.channels.get(id);
    if (!ch) {
      const c: FakeChannel = {
        handlers: [],
        stateHandlers: [],
        broadcast: (payload) => {
          for (const n of this.net.nodes.keys())
            if (n !== this.localName) this.net.send(this.localName, n, id, payload);
        },
        sendTo: (node, payload) => this.net.send(this.localName, node, id, payload),
        onMessage: (cb) => c.handlers.push(cb),
        setLocalState: (fn) => {
          c.state = fn;
        },
        onRemoteState: (cb) => c.stateHandlers.push(cb),
      };
      ch = c;
      this.channels.set(id, ch);
    }
    return ch;
  }

  members(): MemberInfo[] {
    return this.net.members(this.localName);
  }

  deliver(id: number, payload: Buffer, from: string): void {
    for (const h of this.channels.get(id)?.handlers ?? []) h(payload, from);
  }

  pullFrom(other: FakeCluster): void {
    for (const [id, ch] of other.channels) {
      const mine = this.channels.get(id);
      if (!ch.state || !mine) continue;
      const buf = ch.state();
      for (const h of mine.stateHandlers) h(buf, true);
    }
  }
}
