import { networkInterfaces } from 'node:os';
import { splitHostPort } from './membership/memberlist.js';

/**
 * True for our own gossip address: the advertised or bound IP, a wildcard or
 * localhost, or any local interface IP, with our port. Joining ourselves
 * would count as a successful join and hide a misconfigured seed list.
 */
export function isSelfAddress(
  addr: string,
  self: { ip: string; port: number },
  opts: { defaultPort: number; bindAddress: string },
): boolean {
  let host: string;
  let port: number;
  try {
    ({ host, port } = splitHostPort(addr, opts.defaultPort));
  } catch {
    return false;
  }
  if (port !== self.port) return false;
  if (host === self.ip || host === 'localhost' || host === '0.0.0.0' || host === '::') return true;
  const bind = opts.bindAddress;
  if (bind !== '0.0.0.0' && bind !== '::') return host === bind;
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === host));
}

export function formatHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
