import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { isLoopbackAddress } from './addresses.js';
import { HttpError } from './errors.js';

export interface AdminGuardOptions {
  /** With a token, the bearer check (in the admin API) is the defence and this guard stands aside. */
  adminToken?: string;
  /** Host names or addresses, beyond the node's own, that browsers may use to reach the admin API. */
  allowedHosts: readonly string[];
  /** The address the server is bound to (`server.host`). */
  bindHost: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const SAME_ORIGIN_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * Browser CSRF and DNS rebinding defence for an admin API that has no token:
 * only loopback clients, only JSON writes (a cross-site form or `text/plain`
 * POST cannot set `application/json` without a CORS preflight, which we never
 * grant), no cross-site `Origin`/`Sec-Fetch-Site`, and a `Host` that names this
 * node (a rebinding page's Host is the attacker's name).
 */
export class AdminGuard {
  private readonly ownNames: Set<string>;

  constructor(private readonly o: AdminGuardOptions) {
    this.ownNames = new Set(
      ['localhost', '127.0.0.1', '::1', hostname(), o.bindHost, ...o.allowedHosts]
        .filter((h) => h && h !== '0.0.0.0' && h !== '::')
        .map(normaliseHost),
    );
  }

  /** The refusal for this request, or undefined when it may proceed to the admin API. */
  refusal(req: IncomingMessage): HttpError | undefined {
    if (this.o.adminToken) return undefined;
    if (!isLoopbackAddress(req.socket.remoteAddress))
      return forbidden(
        'the admin API only answers loopback clients when no server.admin_token is configured',
        'admin_loopback_only',
      );
    const host = req.headers.host;
    if (!host || !this.isOwnHost(hostOf(host), req))
      return forbidden(
        'Host is not this node: add it to server.allowed_hosts to reach the admin API by that name',
        'admin_host_not_allowed',
        'host',
      );
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && !SAME_ORIGIN_FETCH_SITES.has(site.toLowerCase()))
      return forbidden(
        'cross-site requests to the admin API are refused',
        'admin_cross_site',
        'sec-fetch-site',
      );
    const origin = req.headers.origin;
    if (origin !== undefined && !this.sameOrigin(origin, host))
      return forbidden('cross-origin requests to the admin API are refused', 'admin_cross_site', 'origin');
    if (WRITE_METHODS.has(req.method ?? '') && !isJson(req.headers['content-type']))
      return forbidden(
        'admin API writes must be sent with content-type: application/json',
        'admin_json_only',
        'content-type',
      );
    return undefined;
  }

  private isOwnHost(name: string, req: IncomingMessage): boolean {
    if (this.ownNames.has(name)) return true;
    // Reached by the very address the socket accepted on: a literal IP, not a rebinding name.
    const local = req.socket.localAddress;
    return local !== undefined && normaliseHost(local) === name;
  }

  private sameOrigin(origin: string, host: string): boolean {
    try {
      const u = new URL(origin);
      return (
        (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.toLowerCase()
      );
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
  }
}

function forbidden(message: string, code: string, param: string | null = null): HttpError {
  return new HttpError(403, message, 'permission_error', code, {}, param);
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return media === 'application/json';
}

/** The host part of a Host header: `[::1]:8080` → `::1`, `Example.COM.:80` → `example.com`. */
export function hostOf(header: string): string {
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return normaliseHost(end === -1 ? h.slice(1) : h.slice(1, end));
  }
  const colon = h.indexOf(':');
  return normaliseHost(colon === -1 ? h : h.slice(0, colon));
}

function normaliseHost(h: string): string {
  let s = h.toLowerCase();
  if (s.startsWith('::ffff:') && s.includes('.')) s = s.slice(7);
  return s.endsWith('.') ? s.slice(0, -1) : s;
}
