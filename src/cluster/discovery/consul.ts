import { parseFixedDuration } from '../../config/duration.js';
import { formatHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { errText, sleep } from './util.js';

interface HealthEntry {
  Node?: { Address?: string };
  Service?: { ID?: string; Address?: string; Port?: number };
}

/**
 * Consul: registers `service_name` (ID = node name, our gossip address) with a
 * TTL check we keep passing, and reads passing instances with blocking queries.
 */
export class ConsulDiscovery implements DiscoveryMethod {
  readonly type = 'consul' as const;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly ttlSeconds: number;
  private readonly checkId: string;
  private passTimer?: NodeJS.Timeout;
  private listener?: () => void;
  private stopped = false;
  private registered = false;
  private index = '';
  private watchAbort = new AbortController();
  private lastSeen = '';

  constructor(
    private readonly ctx: DiscoveryContext,
    opts: { ttlSeconds?: number } = {},
  ) {
    const c = ctx.config;
    const addr = c.consul_address.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    this.base = `${c.consul_scheme}://${addr}`;
    this.timeoutMs = parseFixedDuration(c.dial_timeout);
    this.ttlSeconds = opts.ttlSeconds ?? 15;
    this.checkId = `service:${ctx.nodeName}`;
  }

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.timeoutMs,
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.ctx.config.consul_token) headers['X-Consul-Token'] = this.ctx.config.consul_token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (signal) signals.push(signal);
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any(signals),
    });
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      throw new Error(`consul ${method} ${path.split('?')[0]}: HTTP ${res.status}${text ? ` ${text}` : ''}`);
    }
    return res;
  }

  async start(): Promise<void> {
    await this.register();
    const every = Math.max(500, (this.ttlSeconds * 1000) / 3);
    this.passTimer = setInterval(() => void this.pass(), every);
    this.passTimer.unref?.();
    void this.watch();
  }

  private async register(): Promise<void> {
    try {
      await this.call('PUT', '/v1/agent/service/register', {
        ID: this.ctx.nodeName,
        Name: this.ctx.config.service_name,
        Address: this.ctx.selfAddress,
        Port: this.ctx.gossipPort,
        Meta: { node_name: this.ctx.nodeName },
        Check: {
          CheckID: this.checkId,
          Name: 'deepintshield gossip TTL',
          TTL: `${this.ttlSeconds}s`,
          DeregisterCriticalServiceAfter: '1m',
        },
      });
      this.registered = true;
      await this.pass();
    } catch (err) {
      this.registered = false;
      this.ctx.logger.warn(
        { err: errText(err), consul: this.base },
        'failed to register service with Consul',
      );
    }
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    if (!this.registered) return this.register();
    try {
      await this.call('PUT', `/v1/agent/check/pass/${encodeURIComponent(this.checkId)}`);
    } catch (err) {
      // agent restarted or lost our registration: register again
      this.registered = false;
      this.ctx.logger.warn({ err: errText(err) }, 'failed to register service with Consul');
    }
  }

  private healthPath(index?: string, wait?: string): string {
    const q = new URLSearchParams({ passing: 'true' });
    if (index) q.set('index', index);
    if (wait) q.set('wait', wait);
    return `/v1/health/service/${encodeURIComponent(this.ctx.config.service_name)}?${q}`;
  }

  private static addresses(entries: HealthEntry[]): string[] {
    const out: string[] = [];
    for (const e of entries) {
      const host = e.Service?.Address || e.Node?.Address;
      const port = e.Service?.Port;
      if (host && port) out.push(formatHostPort(host, port));
    }
    return out;
  }

  /** Blocking queries: any change of the passing set triggers an early round. */
  private async watch(): Promise<void> {
    const waitS = Math.max(1, Math.min(30, Math.floor(this.timeoutMs / 1000) * 3 || 1));
    let failures = 0;
    for (let i = 0; !this.stopped && i < 1e9; i++) {
      try {
        const res = await this.call(
          'GET',
          this.healthPath(this.index || undefined, this.index ? `${waitS}s` : undefined),
          undefined,
          waitS * 1000 + this.timeoutMs,
          this.watchAbort.signal,
        );
        const idx = res.headers.get('x-consul-index') ?? '';
        const entries = (await res.json()) as HealthEntry[];
        const seen = ConsulDiscovery.addresses(entries).sort().join(',');
        failures = 0;
        this.index = Number(idx) > 0 && Number(idx) >= Number(this.index || 0) ? idx : '';
        if (seen !== this.lastSeen) {
          const first = this.lastSeen === '' && i === 0;
          this.lastSeen = seen;
          if (!first) this.listener?.();
        }
      } catch {
        if (this.stopped) return;
        this.index = '';
        await sleep(Math.min(10_000, 500 * 2 ** Math.min(failures++, 5)));
      }
    }
  }

  async discover(signal: AbortSignal): Promise<string[]> {
    if (!this.registered) await this.register();
    const res = await this.call('GET', this.healthPath(), undefined, this.timeoutMs, signal);
    return ConsulDiscovery.addresses((await res.json()) as HealthEntry[]);
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    clearInterval(this.passTimer);
    this.watchAbort.abort();
    if (graceful && this.registered) {
      await this.call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(this.ctx.nodeName)}`).catch(
        (err) => this.ctx.logger.warn({ err: errText(err) }, 'failed to deregister service from Consul'),
      );
    }
  }
}
