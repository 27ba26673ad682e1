import type { CounterSpec } from '../../../src/cluster/state/counters.js';
import { DistributedCounters } from '../../../src/cluster/state/counters.js';
import { ClaimWaits } from './claim-waits.js';
import { FakeNetwork } from './fake-network.js';

export interface SimOptions {
  nodes?: string[];
  weights?: number[];
  limit?: number;
  windowMs?: number;
  /** Offered load as a multiple of the limit. */
  overload?: number;
  windows?: number;
  seed?: number;
  latencyMs?: [number, number];
  lossRate?: number;
  /** Hooks at simulated times (ms from start). */
  events?: { at: number; run: (s: Sim) => void }[];
  /** Start offset so the run begins at a window boundary plus this. */
  offsetMs?: number;
  naive?: boolean;
}

export class Sim {
  readonly net: FakeNetwork;
  readonly counters = new Map<string, DistributedCounters>();
  readonly spec: CounterSpec;
  /** admitted[windowIndex][node] */
  readonly admitted: Record<string, number>[] = [];
  readonly offered: Record<string, number>[] = [];
  private readonly start: number;

  constructor(readonly o: Required<Omit<SimOptions, 'events' | 'latencyMs' | 'lossRate'>> & SimOptions) {
    this.net = new FakeNetwork({ seed: o.seed, latencyMs: o.latencyMs ?? [1, 5], lossRate: o.lossRate ?? 0 });
    this.start = 1_000 * o.windowMs + (o.offsetMs ?? 0);
    this.net.now = this.start;
    this.spec = { key: 'vk:t:req', limit: o.limit, duration: { kind: 'fixed', ms: o.windowMs } };
    for (const n of o.nodes) {
      if (o.naive) this.net.add(n);
      this.counters.set(
        n,
        o.naive
          ? new DistributedCounters({ nodeName: n, now: () => this.net.now, timers: false })
          : this.net.counterNode(n),
      );
    }
    if (!o.naive) this.net.pushPull();
  }

  /** Restarts a node process under the same name: fresh memory, then a push/pull join. */
  restart(name: string): void {
    this.counters.get(name)?.close();
    this.net.killed.delete(name);
    this.net.heal();
    this.counters.set(name, this.net.counterNode(name));
    this.net.pushPull();
  }

  static run(opts: SimOptions): Sim {
    const o = {
      nodes: ['a', 'b', 'c'],
      weights: [0.7, 0.2, 0.1],
      limit: 600,
      windowMs: 60_000,
      overload: 3,
      windows: 3,
      seed: 7,
      offsetMs: 0,
      naive: false,
      ...opts,
    };
    const s = new Sim(o);
    s.loop(opts.events ?? []);
    return s;
  }

  private loop(events: { at: number; run: (s: Sim) => void }[]): void {
    const { o, net } = this;
    const end = this.start + o.windows * o.windowMs;
    const stepMs = 1;
    const perMs = (o.limit * o.overload) / o.windowMs;
    const pending = [...events].sort((a, b) => a.at - b.at);
    const tickEvery = 50;
    let step = 0;
    const waiting = new ClaimWaits<string>();
    const admit = (n: string, wi: number, again: boolean): void => {
      const c = this.counters.get(n)!;
      const spec = o.naive ? { ...this.spec, limit: Math.floor(o.limit / o.nodes.length) } : this.spec;
      const r = c.admit([{ spec, amount: 1, consume: true }], { again });
      if (r.ok) this.admitted[wi]![n] = (this.admitted[wi]![n] ?? 0) + 1;
      else if (!again && r.decisions[0]!.pending) waiting.add(n, c, net.now);
    };
    while (net.now < end) {
      while (pending.length > 0 && pending[0]!.at <= net.now - this.start) pending.shift()!.run(this);
      net.deliver();
      const wi = Math.floor((net.now - this.start) / o.windowMs);
      this.admitted[wi] ??= {};
      this.offered[wi] ??= {};
      waiting.due(
        net.now,
        (n) => admit(n, wi, true),
        (n) => net.killed.has(n),
      );
      o.nodes.forEach((n, i) => {
        if (net.killed.has(n)) return;
        const c = this.counters.get(n)!;
        // Bernoulli arrivals at this node's share of the offered rate.
        const p = perMs * o.weights[i]! * stepMs;
        let k = Math.floor(p);
        if (net.random() < p - k) k++;
        for (let j = 0; j < k; j++) {
          this.offered[wi]![n] = (this.offered[wi]![n] ?? 0) + 1;
          admit(n, wi, false);
        }
        // staggered ticks
        if ((step + i * 17) % tickEvery === 0) c.tick();
      });
      net.now += stepMs;
      step++;
    }
  }

  totals(): number[] {
    return this.admitted.map((w) => Object.values(w).reduce((a, b) => a + b, 0));
  }
}
