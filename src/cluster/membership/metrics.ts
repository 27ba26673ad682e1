import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface GossipMetrics {
  members: Gauge<'state'>;
  probeRtt: Histogram;
  suspicions: Counter;
  refutations: Counter;
  queueDepth: Gauge;
  bytesIn: Counter<'transport'>;
  bytesOut: Counter<'transport'>;
  packetsIn: Counter<'transport'>;
  packetsOut: Counter<'transport'>;
  dropped: Counter<'reason'>;
}

const P = 'deepintshield_gossip_';

/** Gossip metrics, registered in the given registry (a fresh private one when none is given). */
export function createGossipMetrics(registry?: Registry): GossipMetrics {
  const registers = registry ? [registry] : [];
  const get = <T>(name: string, make: () => T): T =>
    (registry?.getSingleMetric(P + name) as T | undefined) ?? make();
  return {
    members: get(
      'members',
      () =>
        new Gauge({ name: `${P}members`, help: 'Known members by state', labelNames: ['state'], registers }),
    ),
    probeRtt: get(
      'probe_rtt_seconds',
      () =>
        new Histogram({
          name: `${P}probe_rtt_seconds`,
          help: 'Round-trip time of successful probes',
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers,
        }),
    ),
    suspicions: get(
      'suspicions_total',
      () => new Counter({ name: `${P}suspicions_total`, help: 'Nodes marked suspect', registers }),
    ),
    refutations: get(
      'refutations_total',
      () =>
        new Counter({ name: `${P}refutations_total`, help: 'Suspicions about this node refuted', registers }),
    ),
    queueDepth: get(
      'broadcast_queue_depth',
      () =>
        new Gauge({ name: `${P}broadcast_queue_depth`, help: 'Broadcasts waiting to be sent', registers }),
    ),
    bytesIn: get(
      'bytes_in_total',
      () =>
        new Counter({
          name: `${P}bytes_in_total`,
          help: 'Bytes received',
          labelNames: ['transport'],
          registers,
        }),
    ),
    bytesOut: get(
      'bytes_out_total',
      () =>
        new Counter({
          name: `${P}bytes_out_total`,
          help: 'Bytes sent',
          labelNames: ['transport'],
          registers,
        }),
    ),
    packetsIn: get(
      'packets_in_total',
      () =>
        new Counter({
          name: `${P}packets_in_total`,
          help: 'UDP packets / TCP streams received',
          labelNames: ['transport'],
          registers,
        }),
    ),
    packetsOut: get(
      'packets_out_total',
      () =>
        new Counter({
          name: `${P}packets_out_total`,
          help: 'UDP packets / TCP streams sent',
          labelNames: ['transport'],
          registers,
        }),
    ),
    dropped: get(
      'dropped_packets_total',
      () =>
        new Counter({
          name: `${P}dropped_packets_total`,
          help: 'Inbound packets or streams dropped, by reason',
          labelNames: ['reason'],
          registers,
        }),
    ),
  };
}
