import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per node process. Each concern declares its own metrics next to
 * its code (gateway, membership, discovery, governance, store) and registers
 * them here, so a test can run several nodes in one process without clashes.
 */
/** Resolution of the event-loop delay histogram. */
const EVENT_LOOP_SAMPLE_MS = 100;

export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics !== false)
    collectDefaultMetrics({
      register: registry,
      prefix: 'deepintshield_process_',
      // prom-client samples event-loop delay every 10 ms by default: 100 wake-ups a second, most of an
      // idle node's CPU. Every 100 ms still shows the stalls that matter for a gateway.
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
  return registry;
}

export type { Registry };
