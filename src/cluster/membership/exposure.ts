import type { ClusterConfig } from '../../config/schema.js';

/**
 * Gossip without a key is unauthenticated: anyone who can send one UDP packet
 * to the port can add a member. Fine on loopback, dangerous anywhere else.
 * Returns the warning to log at start, or undefined.
 */
export function unencryptedGossipWarning(cluster: ClusterConfig): string | undefined {
  if (!cluster.enabled || cluster.gossip.encryption_key) return undefined;
  if (isLoopbackBind(cluster.bind_address)) return undefined;
  return (
    `GOSSIP IS NOT ENCRYPTED on ${cluster.bind_address}:${cluster.gossip.port}: any host that can reach this port ` +
    'can forge membership (fake members, false deaths). Set cluster_config.gossip.encryption_key ' +
    '(base64 of 16/24/32 random bytes, e.g. from a Secret: "env.DEEPINTSHIELD_GOSSIP_KEY") on every node'
  );
}

function isLoopbackBind(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
