import { promises as dnsp } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { parseFixedDuration } from '../../config/duration.js';
import { formatHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { abortable, errText } from './util.js';

type Resolver = Pick<dnsp.Resolver, 'resolve4' | 'resolve6' | 'resolveSrv'>;

const NO_DATA = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA']);

/**
 * DNS: each name is tried as SRV (target + port) and as A/AAAA (+ bind_port).
 * Results are re-resolved every round and, when records carry a shorter TTL
 * than the interval, again when that TTL runs out.
 */
export class DnsDiscovery implements DiscoveryMethod {
  readonly type = 'dns' as const;
  private readonly resolver: Resolver;
  private readonly port: number;
  private readonly intervalMs: number;
  private listener?: () => void;
  private ttlTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly ctx: DiscoveryContext) {
    const c = ctx.config;
    if (!c.dns_names?.length) throw new Error('dns_names is required for dns discovery');
    this.port = c.bind_port ?? ctx.gossipPort;
    this.intervalMs = parseFixedDuration(c.interval);
    if (c.dns_servers?.length) {
      const r = new dnsp.Resolver({ timeout: Math.max(100, parseFixedDuration(c.dial_timeout)), tries: 2 });
      r.setServers(c.dns_servers);
      this.resolver = r;
    } else {
      this.resolver = dnsp;
    }
  }

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  async start(): Promise<void> {}

  async discover(signal: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let minTtl = Number.POSITIVE_INFINITY;
    await Promise.all(
      this.ctx.config.dns_names!.map(async (name) => {
        const errors: string[] = [];
        let found = 0;
        const note = (err: unknown) => {
          const code = (err as { code?: string }).code;
          if (!code || !NO_DATA.has(code)) errors.push(code ?? errText(err));
          else errors.push(code);
        };
        // SRV
        try {
          const srv = await abortable(this.resolver.resolveSrv(name), signal);
          for (const rec of srv) {
            if (ipaddr.isValid(rec.name)) {
              out.push(formatHostPort(rec.name, rec.port));
              found++;
              continue;
            }
            const ips = await this.lookupHost(rec.name, signal, (t) => {
              minTtl = Math.min(minTtl, t);
            }).catch((err) => {
              note(err);
              return [] as string[];
            });
            for (const ip of ips) {
              out.push(formatHostPort(ip, rec.port));
              found++;
            }
          }
        } catch (err) {
          note(err);
        }
        // A / AAAA
        try {
          const ips = await this.lookupHost(name, signal, (t) => {
            minTtl = Math.min(minTtl, t);
          });
          for (const ip of ips) out.push(formatHostPort(ip, this.port));
          found += ips.length;
        } catch (err) {
          note(err);
        }
        if (found === 0) {
          if (signal.aborted) throw signal.reason;
          this.ctx.logger.warn(
            { name, err: [...new Set(errors)].join(', ') || 'no records' },
            'dns lookup error',
          );
        }
      }),
    );
    this.scheduleTtl(minTtl);
    return [...new Set(out)];
  }

  private async lookupHost(name: string, signal: AbortSignal, ttl: (s: number) => void): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([
      abortable(this.resolver.resolve4(name, { ttl: true }), signal),
      abortable(this.resolver.resolve6(name, { ttl: true }), signal),
    ]);
    const ips: string[] = [];
    for (const r of [v4, v6]) {
      if (r.status === 'fulfilled') {
        for (const rec of r.value) {
          ips.push(rec.address);
          ttl(rec.ttl);
        }
      }
    }
    if (ips.length === 0) {
      throw v4.status === 'rejected'
        ? v4.reason
        : v6.status === 'rejected'
          ? v6.reason
          : Object.assign(new Error('no records'), { code: 'ENODATA' });
    }
    return ips;
  }

  /** Records with a TTL shorter than the interval: re-resolve when it expires. */
  private scheduleTtl(minTtl: number): void {
    clearTimeout(this.ttlTimer);
    if (this.stopped || !Number.isFinite(minTtl)) return;
    const ms = Math.max(1000, minTtl * 1000);
    if (ms >= this.intervalMs) return;
    this.ttlTimer = setTimeout(() => this.listener?.(), ms);
    this.ttlTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.ttlTimer);
  }
}
