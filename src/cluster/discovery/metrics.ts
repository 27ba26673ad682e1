import { Counter, Gauge, type Registry } from 'prom-client';

export interface DiscoveryMetrics {
  rounds: Counter<'method'>;
  failures: Counter<'method'>;
  peers: Gauge<'method'>;
  lastSuccess: Gauge<'method'>;
}

/** Registers (once per registry) the deepintshield_discovery_* metrics. */
export function discoveryMetrics(registry: Registry): DiscoveryMetrics {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    rounds: get(
      'deepintshield_discovery_rounds_total',
      () =>
        new Counter({
          name: 'deepintshield_discovery_rounds_total',
          help: 'Discovery rounds run',
          labelNames: ['method'],
          registers: [registry],
        }),
    ),
    failures: get(
      'deepintshield_discovery_failures_total',
      () =>
        new Counter({
          name: 'deepintshield_discovery_failures_total',
          help: 'Discovery rounds that failed',
          labelNames: ['method'],
          registers: [registry],
        }),
    ),
    peers: get(
      'deepintshield_discovery_peers_discovered',
      () =>
        new Gauge({
          name: 'deepintshield_discovery_peers_discovered',
          help: 'Peers found by the last successful round (after filtering)',
          labelNames: ['method'],
          registers: [registry],
        }),
    ),
    lastSuccess: get(
      'deepintshield_discovery_last_success_timestamp_seconds',
      () =>
        new Gauge({
          name: 'deepintshield_discovery_last_success_timestamp_seconds',
          help: 'Unix time of the last successful discovery round',
          labelNames: ['method'],
          registers: [registry],
        }),
    ),
  };
}
