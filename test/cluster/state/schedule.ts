import type { CounterClaim, CounterSpec, DistributedCounters } from '../../../src/cluster/state/counters.js';
import { ClaimWaits } from './claim-waits.js';
import { FakeNetwork } from './fake-network.js';

/** One request: when (ms from the start), at which node, what it asks for and what it really used. */
export interface Arrival {
  at: number;
  node: number;
  /** Reservation (tokens): the estimate; requests use 1. */
  ask?: number;
  /** Tokens really used, settled `holdMs` later. */
  use?: number;
  holdMs?: number;
}

export interface ScheduleResult {
  admitted: number[];
  /** Amount charged per window (requests: admitted; tokens: Σ use of admitted requests). */
  charged: number[];
  offered: number[];
  /** Every refusal's decision (remaining must be 0). */
  refusals: { remaining: number; retryAtMs: number; at: number }[];
  net: FakeNetwork;
  counters: DistributedCounters[];
}

/**
 * Runs a traffic schedule through real DistributedCounters on the in-memory
 * gossip network in virtual time (1 ms steps, each node ticking every 50 ms).
 * A request refused while its node confirms a borrowed claim (`pending`) asks
 * once more when the claim is confirmed or after CLAIM_CONFIRM_WAIT_MS, as the gateway does.
 */
export function runSchedule(o: {
  nodes: number;
  spec: CounterSpec;
  arrivals: Arrival[];
  /** Extra virtual time after the last arrival. */
  tailMs?: number;
  seed?: number;
  lossRate?: number;
  latencyMs?: [number, number];
  tokens?: boolean;
  /** Drops the datagrams it returns true for (`atMs`: schedule time of the send). */
  drop?: (from: string, to: string, atMs: number) => boolean;
}): ScheduleResult {
  const net = new FakeNetwork({ seed: o.seed ?? 1, lossRate: o.lossRate ?? 0, latencyMs: o.latencyMs });
  const W = o.spec.duration.kind === 'fixed' ? o.spec.duration.ms : 60_000;
  const start = 1000 * W;
  net.now = start;
  if (o.drop) {
    const drop = o.drop;
    net.drop = (from, to) => drop(from, to, net.now - start);
  }
  const names = Array.from({ length: o.nodes }, (_, i) => `n${String(i).padStart(3, '0')}`);
  const counters = names.map((n) => net.counterNode(n));
  net.pushPull();
  const arrivals = [...o.arrivals].sort((a, b) => a.at - b.at);
  const end = (arrivals.at(-1)?.at ?? 0) + (o.tailMs ?? 1000);
  const pendingSettles: { at: number; run: () => void }[] = [];
  const r: ScheduleResult = { admitted: [], charged: [], offered: [], refusals: [], net, counters };
  let next = 0;
  const waiting = new ClaimWaits<Arrival>();
  const offer = (a: Arrival, t: number, again: boolean): void => {
    const c = counters[a.node % counters.length]!;
    const wi = Math.floor(t / W);
    if (!again) r.offered[wi] = (r.offered[wi] ?? 0) + 1;
    const claim: CounterClaim = o.tokens
      ? { spec: o.spec, amount: a.ask ?? 0 }
      : { spec: o.spec, amount: 1, consume: true };
    const res = c.admit([claim], { again });
    if (!res.ok && !again && res.decisions[res.refused]!.pending) {
      waiting.add(a, c, t);
      return;
    }
    if (res.ok) {
      r.admitted[wi] = (r.admitted[wi] ?? 0) + 1;
      const used = o.tokens ? (a.use ?? a.ask ?? 0) : 1;
      r.charged[wi] = (r.charged[wi] ?? 0) + used;
      if (o.tokens) pendingSettles.push({ at: t + (a.holdMs ?? 0), run: () => res.settle([used]) });
    } else {
      const d = res.decisions[0]!;
      r.refusals.push({ remaining: d.remaining, retryAtMs: d.resetAt - net.now, at: t });
    }
  };
  for (let t = 0; t <= end || waiting.size > 0; t++) {
    net.now = start + t;
    net.deliver();
    for (let i = pendingSettles.length - 1; i >= 0; i--)
      if (pendingSettles[i]!.at <= t) pendingSettles.splice(i, 1)[0]!.run();
    waiting.due(t, (a) => offer(a, t, true));
    while (next < arrivals.length && arrivals[next]!.at <= t) offer(arrivals[next++]!, t, false);
    counters.forEach((c, i) => {
      if ((t + i * 17) % 50 === 0) c.tick();
    });
  }
  for (const s of pendingSettles) s.run();
  return r;
}
