export {
  type CounterDecision,
  type CounterSpec,
  type CountersOptions,
  DistributedCounters,
} from './counters.js';
export {
  CHANNEL_CONFIG,
  CHANNEL_COUNTERS,
  CHANNEL_KEY_COOLDOWN,
  type ClusterLike,
  type GossipChannel,
  type MemberInfo,
  type MemberState,
} from './gossip.js';
export { ClusterKeyGate } from './key-gate.js';
