import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import makeMdns from 'multicast-dns';
import { parseFixedDuration } from '../../config/duration.js';
import { formatHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { errText, sleep } from './util.js';

type Mdns = ReturnType<typeof makeMdns>;
// biome-ignore lint/suspicious/noExplicitAny: dns-packet record unions are awkward to narrow
type AnyRecord = any;

const TTL = 120;

/** mdns_interface (name or IPv4) → the IPv4 addresses to bind multicast to; default every multicast-capable IPv4 interface. */
export function mdnsInterfaces(spec?: string): string[] {
  const all = networkInterfaces();
  if (spec) {
    if (ipaddr.IPv4.isValidFourPartDecimal(spec)) return [spec];
    const addrs = (all[spec] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
    if (addrs.length === 0) throw new Error(`mdns_interface ${spec}: no such interface with an IPv4 address`);
    return addrs;
  }
  const out: string[] = [];
  for (const addrs of Object.values(all))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  return out.length ? out : ['127.0.0.1'];
}

interface Instance {
  target?: string;
  port?: number;
  expires: number;
}

/**
 * mDNS / DNS-SD: advertises `<node>.<mdns_service>.local` (PTR, SRV, TXT, A)
 * and browses for the same service type. Interoperates with avahi/Bonjour.
 */
export class MdnsDiscovery implements DiscoveryMethod {
  readonly type = 'mdns' as const;
  private readonly service: string;
  private readonly instance: string;
  private readonly host: string;
  private readonly windowMs: number;
  private readonly sockets: Mdns[] = [];
  private readonly instances = new Map<string, Instance>();
  private readonly hosts = new Map<string, { ips: Set<string>; expires: number }>();
  private listener?: () => void;
  private stopped = false;
  private announceTimer?: NodeJS.Timeout;

  constructor(private readonly ctx: DiscoveryContext) {
    this.service = `${ctx.config.mdns_service.replace(/\.local\.?$/, '').replace(/\.$/, '')}.local`;
    const label = ctx.nodeName.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63);
    this.instance = `${label}.${this.service}`;
    this.host = `${label}.local`;
    this.windowMs = Math.min(1500, Math.max(200, parseFixedDuration(ctx.config.dial_timeout) / 4));
  }

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  async start(): Promise<void> {
    const ifaces = mdnsInterfaces(this.ctx.config.mdns_interface);
    for (const iface of ifaces) {
      const m = makeMdns({ interface: iface, bind: '0.0.0.0', reuseAddr: true, loopback: true });
      try {
        await new Promise<void>((resolve, reject) => {
          m.once('ready', () => resolve());
          m.once('error', reject);
        });
      } catch (err) {
        // undo the sockets opened so far so a retried start() does not duplicate them
        for (const x of [m, ...this.sockets.splice(0)]) x.destroy();
        throw new Error(`mdns on ${iface}: ${errText(err)}`);
      }
      m.on('error', (err: Error) =>
        this.ctx.logger.warn({ err: errText(err), interface: iface }, 'failed to broadcast'),
      );
      m.on('warning', () => {});
      m.on('query', (q: AnyRecord) => this.onQuery(m, q));
      m.on('response', (r: AnyRecord) => this.onResponse(r.answers ?? [], r.additionals ?? []));
      this.sockets.push(m);
    }
    this.announce(TTL);
    this.browse();
    const every = Math.max(1000, Math.min(parseFixedDuration(this.ctx.config.interval), 30_000));
    this.announceTimer = setInterval(() => this.browse(), every);
    this.announceTimer.unref?.();
  }

  private records(ttl: number): { answers: AnyRecord[]; additionals: AnyRecord[] } {
    const name = this.ctx.config.service_name;
    return {
      answers: [{ name: this.service, type: 'PTR', ttl, data: this.instance }],
      additionals: [
        {
          name: this.instance,
          type: 'SRV',
          ttl,
          flush: true,
          data: { priority: 0, weight: 0, port: this.ctx.gossipPort, target: this.host },
        },
        {
          name: this.instance,
          type: 'TXT',
          ttl,
          flush: true,
          data: [`node=${this.ctx.nodeName}`, `service=${name}`, 'v=1'],
        },
        { name: this.host, type: 'A', ttl, flush: true, data: this.ctx.selfAddress },
      ],
    };
  }

  private send(m: Mdns, packet: AnyRecord): void {
    try {
      m.respond(packet);
    } catch (err) {
      this.ctx.logger.warn({ err: errText(err) }, 'failed to broadcast');
    }
  }

  private announce(ttl: number): void {
    const r = this.records(ttl);
    for (const m of this.sockets) this.send(m, { answers: [...r.answers, ...r.additionals] });
  }

  private browse(): void {
    for (const m of this.sockets) {
      try {
        m.query({ questions: [{ name: this.service, type: 'PTR' }] });
      } catch (err) {
        this.ctx.logger.warn({ err: errText(err) }, 'failed to broadcast');
      }
    }
  }

  private onQuery(m: Mdns, q: AnyRecord): void {
    if (this.stopped) return;
    const { answers, additionals } = this.records(TTL);
    const all = [...answers, ...additionals];
    const out: AnyRecord[] = [];
    for (const question of q.questions ?? []) {
      const qn = String(question.name).toLowerCase();
      if (qn === '_services._dns-sd._udp.local' && (question.type === 'PTR' || question.type === 'ANY')) {
        out.push({ name: '_services._dns-sd._udp.local', type: 'PTR', ttl: TTL, data: this.service });
        continue;
      }
      for (const rec of all) {
        if (rec.name.toLowerCase() === qn && (question.type === rec.type || question.type === 'ANY'))
          out.push(rec);
      }
    }
    if (out.length === 0) return;
    // Known-answer suppression is optional; answering anyway is always correct.
    const extra = all.filter((r) => !out.includes(r));
    this.send(m, { answers: out, additionals: extra });
  }

  private onResponse(answers: AnyRecord[], additionals: AnyRecord[]): void {
    const now = Date.now();
    let changed = false;
    const svc = this.service.toLowerCase();
    const records = [...answers, ...additionals];
    for (const rec of records) {
      const name = String(rec.name).toLowerCase();
      if (rec.type === 'PTR' && name === svc) {
        const inst = String(rec.data);
        if (inst.toLowerCase() === this.instance.toLowerCase()) continue;
        if (rec.ttl === 0) {
          if (this.instances.delete(inst.toLowerCase())) changed = true;
          continue;
        }
        const cur = this.instances.get(inst.toLowerCase());
        if (!cur) {
          this.instances.set(inst.toLowerCase(), { expires: now + rec.ttl * 1000 });
          changed = true;
        } else cur.expires = now + rec.ttl * 1000;
      }
    }
    for (const rec of records) {
      const name = String(rec.name).toLowerCase();
      if (rec.type === 'SRV') {
        const inst = this.instances.get(name);
        if (inst && (inst.port !== rec.data.port || inst.target !== String(rec.data.target).toLowerCase())) {
          inst.port = rec.data.port;
          inst.target = String(rec.data.target).toLowerCase();
          changed = true;
        }
      } else if (rec.type === 'A' || rec.type === 'AAAA') {
        const h = this.hosts.get(name) ?? { ips: new Set<string>(), expires: 0 };
        if (rec.ttl === 0) h.ips.delete(String(rec.data));
        else if (!h.ips.has(String(rec.data))) {
          if (rec.flush) h.ips.clear();
          h.ips.add(String(rec.data));
          changed = true;
        }
        h.expires = now + rec.ttl * 1000;
        this.hosts.set(name, h);
      }
    }
    if (changed) this.listener?.();
  }

  async discover(signal: AbortSignal): Promise<string[]> {
    this.browse();
    await Promise.race([
      sleep(this.windowMs),
      new Promise((r) => signal.addEventListener('abort', r, { once: true })),
    ]);
    const now = Date.now();
    const out: string[] = [];
    const missing: string[] = [];
    for (const [key, inst] of this.instances) {
      if (inst.expires < now) {
        this.instances.delete(key);
        continue;
      }
      if (!inst.target || !inst.port) {
        missing.push(key);
        continue;
      }
      const h = this.hosts.get(inst.target);
      if (!h || h.ips.size === 0) {
        missing.push(inst.target);
        continue;
      }
      for (const ip of h.ips) if (ip.includes('.')) out.push(formatHostPort(ip, inst.port));
    }
    if (missing.length) {
      for (const m of this.sockets) {
        try {
          m.query({
            questions: missing.map((n) => ({
              name: n,
              type: n.endsWith(this.service.toLowerCase()) ? 'SRV' : 'A',
            })) as AnyRecord,
          });
        } catch {
          /* next round */
        }
      }
    }
    return out;
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    clearInterval(this.announceTimer);
    if (graceful) this.announce(0);
    await sleep(graceful ? 50 : 0);
    await Promise.all(this.sockets.map((m) => new Promise<void>((r) => m.destroy(() => r()))));
    this.sockets.length = 0;
  }
}
