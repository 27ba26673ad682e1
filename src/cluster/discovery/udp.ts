import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import { parseFixedDuration } from '../../config/duration.js';
import { AddressSpace, formatHostPort, parseHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { errText, sleep } from './util.js';

/** "DISD" + version 1. */
const MAGIC = Buffer.from('DISD');
const VERSION = 1;
const FLAG_HMAC = 1;
const MAC_LEN = 32;
const MAX_SKEW_MS = 120_000;

export interface Announcement {
  service: string;
  node: string;
  addr: string;
  ts: number;
  nonce: string;
  /** true: "I am new, please answer directly". */
  hello?: boolean;
}

/** Wire form: MAGIC | version | flags | JSON body | HMAC-SHA256(key, header+body) when flags&1. */
export function encodeAnnouncement(a: Announcement, key?: Buffer): Buffer {
  const body = Buffer.from(JSON.stringify(a));
  const head = Buffer.from([...MAGIC, VERSION, key ? FLAG_HMAC : 0]);
  const msg = Buffer.concat([head, body]);
  if (!key) return msg;
  return Buffer.concat([msg, createHmac('sha256', key).update(msg).digest()]);
}

export type DecodeResult =
  | { ok: true; ann: Announcement }
  | { ok: false; reason: 'malformed' | 'unauthenticated' | 'bad-mac' | 'stale' };

export function decodeAnnouncement(buf: Buffer, key?: Buffer, now = Date.now()): DecodeResult {
  if (buf.length < 7 || buf.length > 2048 || !buf.subarray(0, 4).equals(MAGIC) || buf[4] !== VERSION)
    return { ok: false, reason: 'malformed' };
  const signed = (buf[5]! & FLAG_HMAC) !== 0;
  let body = buf.subarray(6);
  if (key) {
    if (!signed) return { ok: false, reason: 'unauthenticated' };
    if (buf.length < 6 + MAC_LEN) return { ok: false, reason: 'malformed' };
    const msg = buf.subarray(0, buf.length - MAC_LEN);
    const mac = buf.subarray(buf.length - MAC_LEN);
    const want = createHmac('sha256', key).update(msg).digest();
    if (!timingSafeEqual(mac, want)) return { ok: false, reason: 'bad-mac' };
    body = buf.subarray(6, buf.length - MAC_LEN);
  } else if (signed) {
    body = buf.subarray(6, Math.max(6, buf.length - MAC_LEN));
  }
  try {
    const a = JSON.parse(body.toString('utf8')) as Announcement;
    if (
      typeof a.service !== 'string' ||
      typeof a.node !== 'string' ||
      typeof a.addr !== 'string' ||
      typeof a.ts !== 'number'
    ) {
      return { ok: false, reason: 'malformed' };
    }
    if (key && Math.abs(now - a.ts) > MAX_SKEW_MS) return { ok: false, reason: 'stale' };
    return { ok: true, ann: a };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

/** Directed broadcast addresses of every IPv4 interface that has one (never 255.255.255.255). */
export function broadcastAddresses(): string[] {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      const bits = ipaddr.IPv4.parse(a.netmask).prefixLengthFromSubnetMask();
      if (bits === null || bits >= 31) continue; // point-to-point / host routes have no broadcast
      out.add(ipaddr.IPv4.broadcastAddressFromCIDR(`${a.address}/${bits}`).toString());
    }
  }
  return [...out];
}

/**
 * UDP broadcast: announce our gossip address on udp_broadcast_port and listen
 * for others' announcements. Authenticated with HMAC-SHA256 when a gossip
 * encryption key is set.
 */
export class UdpDiscovery implements DiscoveryMethod {
  readonly type = 'udp' as const;
  private socket?: Socket;
  private readonly port: number;
  private readonly targets: string[];
  private readonly space: AddressSpace;
  private readonly selfAddr: string;
  private readonly expireMs: number;
  private readonly windowMs: number;
  private readonly peers = new Map<string, { addr: string; seen: number }>();
  private readonly warned = new Set<string>();
  private readonly forgedWarnAt = new Map<string, number>();
  private listener?: () => void;
  private announceTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly ctx: DiscoveryContext) {
    const c = ctx.config;
    if (!c.udp_broadcast_port) throw new Error('udp_broadcast_port is required for udp discovery');
    this.port = c.udp_broadcast_port;
    this.targets = c.udp_broadcast_address
      ? c.udp_broadcast_address
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : broadcastAddresses();
    this.space = new AddressSpace(c.allowed_address_space);
    this.selfAddr = formatHostPort(ctx.selfAddress, ctx.gossipPort);
    const interval = parseFixedDuration(c.interval);
    this.expireMs = Math.max(3 * interval, 15_000);
    this.windowMs = Math.min(1000, Math.max(100, parseFixedDuration(c.dial_timeout) / 4));
  }

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  async start(): Promise<void> {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(this.port, '0.0.0.0', () => {
          s.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      s.close();
      throw new Error(`cannot listen on udp_broadcast_port ${this.port}: ${errText(err)}`);
    }
    s.setBroadcast(true);
    s.on('error', (err) => this.ctx.logger.warn({ err: errText(err) }, 'failed to broadcast'));
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    this.socket = s;
    this.announce(true);
    const every = Math.max(1000, Math.min(parseFixedDuration(this.ctx.config.interval), 10_000));
    this.announceTimer = setInterval(() => this.announce(false), every);
    this.announceTimer.unref?.();
  }

  private packet(hello: boolean): Buffer {
    return encodeAnnouncement(
      {
        service: this.ctx.config.service_name,
        node: this.ctx.nodeName,
        addr: this.selfAddr,
        ts: Date.now(),
        nonce: randomBytes(6).toString('hex'),
        hello,
      },
      this.ctx.encryptionKey,
    );
  }

  private announce(hello: boolean): void {
    if (!this.socket || this.stopped) return;
    const pkt = this.packet(hello);
    for (const t of this.targets) {
      this.socket.send(pkt, this.port, t, (err) => {
        if (err) this.ctx.logger.warn({ err: errText(err), target: t }, 'failed to broadcast');
      });
    }
  }

  private warnForged(from: string, reason: string): void {
    const now = Date.now();
    const last = this.forgedWarnAt.get(from) ?? 0;
    if (now - last < 60_000) return;
    if (this.forgedWarnAt.size > 1000) this.forgedWarnAt.clear();
    this.forgedWarnAt.set(from, now);
    this.ctx.logger.warn({ from, reason }, 'dropped unauthenticated discovery announcement');
  }

  private outside(addr: string): void {
    if (this.warned.has(addr) || this.warned.size > 10_000) return;
    this.warned.add(addr);
    this.ctx.logger.warn({ address: addr }, 'not in allowed address space');
  }

  private onMessage(msg: Buffer, fromIp: string, fromPort: number): void {
    const res = decodeAnnouncement(msg, this.ctx.encryptionKey);
    if (!res.ok) {
      if (res.reason !== 'malformed') this.warnForged(fromIp, res.reason);
      return;
    }
    const a = res.ann;
    if (a.service !== this.ctx.config.service_name) return;
    if (a.node === this.ctx.nodeName || a.addr === this.selfAddr) return;
    if (!this.space.allows(fromIp)) {
      this.outside(fromIp);
      return;
    }
    const hp = parseHostPort(a.addr);
    if (!hp) return;
    if (!this.space.allows(hp.host)) {
      this.outside(a.addr);
      return;
    }
    const prev = this.peers.get(a.node);
    this.peers.set(a.node, { addr: a.addr, seen: Date.now() });
    if (a.hello && this.socket) this.socket.send(this.packet(false), fromPort, fromIp); // answer newcomers directly
    if (!prev || prev.addr !== a.addr) this.listener?.();
  }

  async discover(signal: AbortSignal): Promise<string[]> {
    this.announce(this.peers.size === 0);
    await Promise.race([
      sleep(this.windowMs),
      new Promise((r) => signal.addEventListener('abort', r, { once: true })),
    ]);
    const now = Date.now();
    for (const [node, p] of this.peers) if (now - p.seen > this.expireMs) this.peers.delete(node);
    return [...this.peers.values()].map((p) => p.addr);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.announceTimer);
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
