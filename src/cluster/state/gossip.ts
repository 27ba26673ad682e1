import { CHANNELS } from '../channels.js';

/**
 * What the state layer needs from the gossip layer (src/cluster/membership).
 * Kept local and minimal so the state layer runs, and is tested, with an
 * in-memory fake, and so a node without a cluster works unchanged.
 */

export interface GossipChannel {
  /** Queued, piggybacked on gossip, retransmitted (best effort, small payloads). */
  broadcast(payload: Buffer, key?: string): void;
  /** Direct to one node (best effort). */
  sendTo(nodeName: string, payload: Buffer): void | Promise<void>;
  onMessage(cb: (payload: Buffer, from?: string) => void): unknown;
  /** Contributes to periodic TCP push/pull anti-entropy (and on join). */
  setLocalState(fn: () => Buffer): void;
  onRemoteState(cb: (buf: Buffer, join: boolean) => void): unknown;
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberInfo {
  name: string;
  state: MemberState;
  /** Gossip tags; DeepIntShield nodes carry `http`. Members without it (e.g. a serf agent) hold no counters. */
  tags?: Record<string, string>;
}

/** The part of the Cluster the state layer uses. */
export interface ClusterLike {
  /** This node's name in the cluster. */
  readonly localName: string;
  channel(id: number): GossipChannel;
  members(): MemberInfo[];
}

/** Channel ids used by the state layer (registered in ../channels.ts). */
export const CHANNEL_CONFIG = CHANNELS.config;
export const CHANNEL_COUNTERS = CHANNELS.counters;
export const CHANNEL_KEY_COOLDOWN = CHANNELS.keyCooldown;
