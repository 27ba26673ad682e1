import { ConsulDiscovery } from './consul.js';
import { DnsDiscovery } from './dns.js';
import { EtcdDiscovery } from './etcd.js';
import { KubernetesDiscovery } from './kubernetes.js';
import { MdnsDiscovery } from './mdns.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { UdpDiscovery } from './udp.js';

/** The method for config.type. */
export function createDiscoveryMethod(ctx: DiscoveryContext): DiscoveryMethod {
  switch (ctx.config.type) {
    case 'kubernetes':
      return new KubernetesDiscovery(ctx);
    case 'consul':
      return new ConsulDiscovery(ctx);
    case 'etcd':
      return new EtcdDiscovery(ctx);
    case 'dns':
      return new DnsDiscovery(ctx);
    case 'udp':
      return new UdpDiscovery(ctx);
    case 'mdns':
      return new MdnsDiscovery(ctx);
    default:
      throw new Error(`unknown discovery type ${String(ctx.config.type)}`);
  }
}
