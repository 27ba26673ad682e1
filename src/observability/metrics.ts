import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per node process. Each concern declares its own metrics next to
 * its code (gateway, membership, discovery, governance, store) and registers
 * them here, so a test can run several nodes in one process without clashes.
 */
export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'deepintshield_process_' });
  return registry;
}

export type { Registry };
