import type { DiscoveryConfig, DiscoveryType } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Registry } from '../../observability/metrics.js';

/** What every discovery method gets from the node. */
export interface DiscoveryContext {
  config: DiscoveryConfig;
  nodeName: string;
  /** Our gossip port (cluster_config.gossip.port). */
  gossipPort: number;
  /** Our advertised gossip IP address. */
  selfAddress: string;
  /** Gossip encryption key (primary), if any: UDP announcements are authenticated with it. */
  encryptionKey?: Buffer;
  logger: Logger;
  registry: Registry;
}

/**
 * One discovery backend. The runner (runner.ts) owns scheduling, retries,
 * address filtering and joining; a method only talks to its backend.
 */
export interface DiscoveryMethod {
  readonly type: DiscoveryType;
  /** Self-registration where the backend needs it; opens watches. */
  start(): Promise<void>;
  /** One round: raw "host:port" gossip addresses as the backend reports them (filtering is the runner's job). */
  discover(signal: AbortSignal): Promise<string[]>;
  /** Watch events: the runner starts an early round. */
  onChange?(cb: () => void): void;
  /** graceful → deregister; a crash leaves TTL/lease expiry to clean up. */
  stop(graceful: boolean): Promise<void>;
}
