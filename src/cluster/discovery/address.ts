import ipaddr from 'ipaddr.js';
import type { Logger } from '../../observability/logger.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "1.2.3.4:10101", "[fd00::1]:10101" or "fd00::1:10101"-free forms; null when not an IP:port. */
export function parseHostPort(addr: string): HostPort | null {
  const text = addr.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else {
    const i = text.lastIndexOf(':');
    if (i <= 0) return null;
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(':')) return null;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  if (!ipaddr.isValid(host)) return null;
  let parsed = ipaddr.parse(host);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (parsed.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(host) && !host.includes(':'))
    return null;
  return { host: parsed.toString(), port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** allowed_address_space check (IPv4 and IPv6 CIDRs); an empty list allows everything. */
export class AddressSpace {
  private readonly ranges: Range[];

  constructor(cidrs: string[]) {
    this.ranges = cidrs.map((c) => ipaddr.parseCIDR(c.trim()));
  }

  get restricted(): boolean {
    return this.ranges.length > 0;
  }

  allows(host: string): boolean {
    if (this.ranges.length === 0) return true;
    if (!ipaddr.isValid(host)) return false;
    let ip = ipaddr.parse(host);
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
      ip = (ip as ipaddr.IPv6).toIPv4Address();
    return this.ranges.some(([net, bits]) => net.kind() === ip.kind() && ip.match([net, bits] as never));
  }
}

/**
 * Filters raw discovery results: drops invalid addresses, our own address and
 * addresses outside allowed_address_space, warning once per address.
 */
export class AddressFilter {
  private readonly space: AddressSpace;
  private readonly warnedOutside = new Set<string>();
  private readonly warnedInvalid = new Set<string>();

  constructor(
    cidrs: string[],
    private readonly self: string[],
    private readonly logger: Logger,
  ) {
    this.space = new AddressSpace(cidrs);
  }

  /** True when the host is allowed; logs "not in allowed address space" once per address. */
  checkSpace(host: string, addr = host): boolean {
    if (this.space.allows(host)) return true;
    if (!this.warnedOutside.has(addr) && this.warnedOutside.size < 10_000) {
      this.warnedOutside.add(addr);
      this.logger.warn({ address: addr }, 'not in allowed address space');
    }
    return false;
  }

  filter(raw: string[]): string[] {
    const out = new Set<string>();
    for (const a of raw) {
      const hp = parseHostPort(a);
      if (!hp) {
        if (!this.warnedInvalid.has(a) && this.warnedInvalid.size < 10_000) {
          this.warnedInvalid.add(a);
          this.logger.warn({ address: a }, 'skipping invalid host address');
        }
        continue;
      }
      const norm = formatHostPort(hp.host, hp.port);
      if (this.self.includes(norm)) continue;
      if (!this.checkSpace(hp.host, norm)) continue;
      out.add(norm);
    }
    return [...out].sort(compareAddresses);
  }
}

/** Deterministic order: by IP bytes then port, so every node picks the same "lowest" seed. */
export function compareAddresses(a: string, b: string): number {
  const pa = parseHostPort(a);
  const pb = parseHostPort(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  const ba = ipaddr.parse(pa.host).toByteArray();
  const bb = ipaddr.parse(pb.host).toByteArray();
  if (ba.length !== bb.length) return ba.length - bb.length;
  for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) return ba[i]! - bb[i]!;
  return pa.port - pb.port;
}
