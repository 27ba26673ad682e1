import { Etcd3, type Lease, type Watcher } from 'etcd3';
import { parseFixedDuration } from '../../config/duration.js';
import { formatHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { abortable, errText, withTimeout } from './util.js';

export interface EtcdOptions {
  /** Lease TTL in seconds (default 10); a crashed node's key disappears after it. */
  leaseTtlSeconds?: number;
}

/**
 * etcd: our key `<prefix>/<service_name>/<node>` = gossip address, bound to a
 * lease kept alive; peers are the values under the prefix, watched for changes.
 */
export class EtcdDiscovery implements DiscoveryMethod {
  readonly type = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly key: string;
  private readonly value: string;
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private lease?: Lease;
  private watcher?: Watcher;
  private listener?: () => void;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private retries = 0;

  constructor(
    private readonly ctx: DiscoveryContext,
    opts: EtcdOptions = {},
  ) {
    const c = ctx.config;
    if (!c.etcd_endpoints?.length) throw new Error('etcd_endpoints is required for etcd discovery');
    this.timeoutMs = parseFixedDuration(c.dial_timeout);
    this.ttl = Math.max(1, Math.round(opts.leaseTtlSeconds ?? 10));
    const root = (c.etcd_prefix ?? '/deepintshield').replace(/\/+$/, '');
    this.prefix = `${root}/${c.service_name}/`;
    this.key = `${this.prefix}${ctx.nodeName}`;
    this.value = formatHostPort(ctx.selfAddress, ctx.gossipPort);
    this.client = new Etcd3({
      hosts: c.etcd_endpoints,
      dialTimeout: this.timeoutMs,
      auth: c.etcd_username ? { username: c.etcd_username, password: c.etcd_password ?? '' } : undefined,
    });
  }

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  async start(): Promise<void> {
    await this.register();
    void this.openWatch();
  }

  /** Puts our key on a fresh lease; on failure logs and retries with backoff. */
  private async register(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const old = this.lease;
    this.lease = undefined;
    old?.release();
    const lease = this.client.lease(this.ttl, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.stopped || this.lease !== lease) return;
      this.ctx.logger.warn({ err: errText(err), key: this.key }, 'etcd client error');
      this.ctx.logger.info({ key: this.key }, 'etcd lease lost; registering again');
      this.scheduleRegister(true);
    });
    lease.on('keepaliveFailed', (err) =>
      this.ctx.logger.debug({ err: errText(err) }, 'etcd keep-alive failed'),
    );
    this.lease = lease;
    try {
      await withTimeout(lease.put(this.key).value(this.value).exec(), this.timeoutMs, 'etcd put');
      this.retries = 0;
      this.ctx.logger.info(
        { key: this.key, address: this.value, ttl_seconds: this.ttl },
        'registered with etcd',
      );
    } catch (err) {
      this.ctx.logger.warn({ err: errText(err), key: this.key }, 'failed to register with etcd');
      this.scheduleRegister(false);
    }
  }

  private scheduleRegister(now: boolean): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = now ? 0 : Math.min(10_000, 500 * 2 ** Math.min(this.retries++, 5));
    this.retryTimer = setTimeout(() => void this.register(), delay);
    this.retryTimer.unref?.();
  }

  private async openWatch(): Promise<void> {
    for (let attempt = 0; !this.stopped && !this.watcher; attempt++) {
      try {
        const w = await this.client.watch().prefix(this.prefix).create();
        if (this.stopped) {
          await w.cancel().catch(() => {});
          return;
        }
        this.watcher = w;
        w.on('put', () => this.listener?.());
        w.on('delete', () => this.listener?.());
        w.on('connected', () => this.listener?.());
        w.on('error', (err) => this.ctx.logger.warn({ err: errText(err) }, 'etcd client error'));
      } catch (err) {
        this.ctx.logger.warn({ err: errText(err) }, 'etcd client error');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))).unref?.());
      }
    }
  }

  async discover(signal: AbortSignal): Promise<string[]> {
    if (!this.lease && !this.stopped) this.scheduleRegister(true);
    try {
      const all = await abortable(this.client.getAll().prefix(this.prefix).strings(), signal);
      return Object.values(all);
    } catch (err) {
      this.ctx.logger.warn({ err: errText(err) }, 'etcd client error');
      throw err;
    }
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.watcher?.cancel().catch(() => {});
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      if (graceful) {
        await withTimeout(this.client.delete().key(this.key).exec(), this.timeoutMs, 'etcd delete').catch(
          () => {},
        );
        await withTimeout(lease.revoke(), this.timeoutMs, 'etcd revoke').catch(() => {});
      } else {
        lease.release(); // key stays until the lease TTL expires
      }
    }
    this.client.close();
  }
}
