import { parseFixedDuration } from '../../config/duration.js';
import type { GossipConfig } from '../../config/schema.js';

/** memberlist timing parameters, in milliseconds where they are durations. */
export interface Timings {
  probeInterval: number;
  probeTimeout: number;
  indirectChecks: number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  retransmitMult: number;
  gossipInterval: number;
  gossipNodes: number;
  gossipToTheDeadTime: number;
  pushPullInterval: number;
  tcpTimeout: number;
  awarenessMaxMultiplier: number;
}

export type TimingProfile = 'lan' | 'wan' | 'local';

const common = { suspicionMaxTimeoutMult: 6, awarenessMaxMultiplier: 8 };

export const PROFILES: Record<TimingProfile, Timings> = {
  lan: {
    ...common,
    probeInterval: 1000,
    probeTimeout: 500,
    indirectChecks: 3,
    suspicionMult: 4,
    retransmitMult: 4,
    gossipInterval: 200,
    gossipNodes: 3,
    gossipToTheDeadTime: 30_000,
    pushPullInterval: 30_000,
    tcpTimeout: 10_000,
  },
  wan: {
    ...common,
    probeInterval: 5000,
    probeTimeout: 3000,
    indirectChecks: 3,
    suspicionMult: 6,
    retransmitMult: 4,
    gossipInterval: 500,
    gossipNodes: 4,
    gossipToTheDeadTime: 60_000,
    pushPullInterval: 60_000,
    tcpTimeout: 30_000,
  },
  local: {
    ...common,
    probeInterval: 1000,
    probeTimeout: 200,
    indirectChecks: 1,
    suspicionMult: 3,
    retransmitMult: 2,
    gossipInterval: 100,
    gossipNodes: 3,
    gossipToTheDeadTime: 15_000,
    pushPullInterval: 15_000,
    tcpTimeout: 1000,
  },
};

/** Profile defaults overridden by every field set in `gossip.timings`. */
export function resolveTimings(t: GossipConfig['timings']): Timings {
  const base = { ...PROFILES[t.profile] };
  const dur = (v: string | number | undefined, fallback: number) =>
    v === undefined ? fallback : parseFixedDuration(v);
  return {
    probeInterval: dur(t.probe_interval, base.probeInterval),
    probeTimeout: dur(t.probe_timeout, base.probeTimeout),
    indirectChecks: t.indirect_checks ?? base.indirectChecks,
    suspicionMult: t.suspicion_mult ?? base.suspicionMult,
    suspicionMaxTimeoutMult: t.suspicion_max_timeout_mult ?? base.suspicionMaxTimeoutMult,
    retransmitMult: t.retransmit_mult ?? base.retransmitMult,
    gossipInterval: dur(t.gossip_interval, base.gossipInterval),
    gossipNodes: t.gossip_nodes ?? base.gossipNodes,
    gossipToTheDeadTime: dur(t.gossip_to_the_dead_time, base.gossipToTheDeadTime),
    pushPullInterval: dur(t.push_pull_interval, base.pushPullInterval),
    tcpTimeout: dur(t.tcp_timeout, base.tcpTimeout),
    awarenessMaxMultiplier: t.awareness_max_multiplier ?? base.awarenessMaxMultiplier,
  };
}

/** Suspicion minimum timeout: mult × max(1, log10(max(1, n))) × interval. */
export function suspicionTimeout(mult: number, n: number, interval: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * nodeScale * interval);
}

/** Broadcast retransmit limit: mult × ceil(log10(n + 1)). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** Push/pull interval scaled up for clusters above 32 nodes. */
export function pushPullScale(interval: number, n: number): number {
  if (n <= 32) return interval;
  const mult = Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
  return interval * mult;
}
