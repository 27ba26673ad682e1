/**
 * Every gossip channel id in one place (the channel multiplexer carries one
 * byte of id). A new feature takes the next free id here; the old constants in
 * state/gossip.ts and cluster.ts re-export these so their importers keep working.
 */
export const CHANNELS = {
  /** Replicated configuration (providers, virtual keys). */
  config: 1,
  /** Cluster-wide rate-limit and budget counters. */
  counters: 2,
  /** Provider key cool-downs after a 429 or 401/403. */
  keyCooldown: 3,
  /** Legacy per-node traffic snapshot (rps, in flight, error rate). */
  nodeTraffic: 16,
  /** Traffic intelligence: per (provider, key, model) stats, quotas and node health, as deltas. */
  trafficStats: 17,
  /** Circuit breaker transitions (open, half-open probe owner, closed). */
  circuits: 18,
} as const;

export type ChannelName = keyof typeof CHANNELS;

/** Ids must be unique: a clash would deliver one feature's payloads to another. */
const seen = new Set<number>();
for (const id of Object.values(CHANNELS)) {
  if (seen.has(id)) throw new Error(`duplicate gossip channel id ${id}`);
  seen.add(id);
}
