import type { DiscoveryType } from '../../config/schema.js';
import { ConsulDiscovery } from './consul.js';
import { DnsDiscovery } from './dns.js';
import { MdnsDiscovery } from './mdns.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { UdpDiscovery } from './udp.js';

/**
 * Loads a heavy client library (@kubernetes/client-node ≈ 0.5 s, etcd3/gRPC)
 * only when that method is configured, at start().
 */
class LazyMethod implements DiscoveryMethod {
  private inner?: DiscoveryMethod;
  private cb?: () => void;

  constructor(
    readonly type: DiscoveryType,
    private readonly load: () => Promise<DiscoveryMethod>,
  ) {}

  async start(): Promise<void> {
    if (!this.inner) {
      this.inner = await this.load();
      if (this.cb) this.inner.onChange?.(this.cb);
    }
    await this.inner.start();
  }

  discover(signal: AbortSignal): Promise<string[]> {
    if (!this.inner) return Promise.reject(new Error(`${this.type} discovery not started`));
    return this.inner.discover(signal);
  }

  onChange(cb: () => void): void {
    this.cb = cb;
    this.inner?.onChange?.(cb);
  }

  async stop(graceful: boolean): Promise<void> {
    await this.inner?.stop(graceful);
  }
}

/** The method for config.type. */
export function createDiscoveryMethod(ctx: DiscoveryContext): DiscoveryMethod {
  switch (ctx.config.type) {
    case 'kubernetes':
      return new LazyMethod(
        'kubernetes',
        async () => new (await import('./kubernetes.js')).KubernetesDiscovery(ctx),
      );
    case 'consul':
      return new ConsulDiscovery(ctx);
    case 'etcd':
      return new LazyMethod('etcd', async () => new (await import('./etcd.js')).EtcdDiscovery(ctx));
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
