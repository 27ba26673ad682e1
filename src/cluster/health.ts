import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import type { Logger } from '../observability/logger.js';

export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
  logger: Logger;
  /** Probe one peer; resolves true when it is ready. Default: GET http://<addr>/ready answers 200. */
  check?: (httpAddress: string, timeoutMs: number) => Promise<boolean>;
  onChange?: () => void;
}

interface PeerHealth {
  /** Where probes go: the member's gossip IP with the port of its `http` tag. */
  httpAddress: string;
  successes: number;
  failures: number;
  healthy: boolean;
  busy: boolean;
}

/** Keep-alive connections for health checks: one socket per peer, reused every interval. */
const healthAgent = new Agent({ keepAliveTimeout: 30_000, connections: 2 });

export async function checkReady(httpAddress: string, timeoutMs: number): Promise<boolean> {
  try {
    // undici's request: a fraction of fetch()'s per-call cost, which matters for an idle node's CPU.
    const res = await request(`http://${httpAddress}/ready`, {
      dispatcher: healthAgent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/**
 * The host:port to probe for a member whose `http` tag is `tag`: the port from the tag (1-65535),
 * the host from gossip when known (else the tag's own host, if it is a literal address or name).
 * Undefined when the tag is not a plain host:port.
 */
export function probeAddress(tag: string, gossipIp?: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(tag);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (gossipIp === undefined) return tag;
  const ip = gossipIp.startsWith('::ffff:') && gossipIp.includes('.') ? gossipIp.slice(7) : gossipIp;
  if (isIP(ip) === 0) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Per-peer health by polling each alive peer's /ready: `successThreshold` consecutive successes make a
 * peer healthy, `failureThreshold` consecutive failures unhealthy; a peer that is dead or left is
 * unhealthy at once (it is simply removed).
 */
export class HealthChecker {
  private readonly peers = new Map<string, PeerHealth>();
  private timer: NodeJS.Timeout | undefined;
  private readonly check: (httpAddress: string, timeoutMs: number) => Promise<boolean>;

  constructor(private readonly opts: HealthOptions) {
    this.check = opts.check ?? checkReady;
  }

  /**
   * The set of peers to poll (alive or suspect, with an http tag). Others are forgotten = unhealthy.
   * With `gossipIp` (the address the member gossips from), only that IP is ever probed: a forged
   * `http` tag can choose the port, not the host, so gossip cannot aim our requests elsewhere.
   */
  setPeers(peers: { name: string; httpAddress: string; gossipIp?: string }[]): void {
    const keep = new Set<string>();
    for (const peer of peers) {
      const target = probeAddress(peer.httpAddress, peer.gossipIp);
      if (target === undefined) continue; // an invalid tag: never probed, so never healthy
      const p = { name: peer.name, httpAddress: target };
      keep.add(p.name);
      const cur = this.peers.get(p.name);
      if (!cur) {
        this.peers.set(p.name, {
          httpAddress: p.httpAddress,
          successes: 0,
          failures: 0,
          healthy: false,
          busy: false,
        });
        void this.poll(p.name);
      } else if (cur.httpAddress !== p.httpAddress) {
        cur.httpAddress = p.httpAddress;
        cur.successes = 0;
        cur.failures = 0;
      }
    }
    let changed = false;
    for (const name of [...this.peers.keys()]) {
      if (!keep.has(name)) {
        if (this.peers.get(name)?.healthy) changed = true;
        this.peers.delete(name);
      }
    }
    if (changed) this.opts.onChange?.();
  }

  isHealthy(name: string): boolean {
    return this.peers.get(name)?.healthy ?? false;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const name of this.peers.keys()) void this.poll(name);
    }, this.opts.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.peers.clear();
  }

  private async poll(name: string): Promise<void> {
    const p = this.peers.get(name);
    if (!p || p.busy) return;
    p.busy = true;
    let ok = false;
    try {
      ok = await this.check(p.httpAddress, this.opts.timeoutMs);
    } finally {
      p.busy = false;
    }
    if (this.peers.get(name) !== p) return;
    const before = p.healthy;
    if (ok) {
      p.successes++;
      p.failures = 0;
      if (p.successes >= this.opts.successThreshold) p.healthy = true;
    } else {
      p.failures++;
      p.successes = 0;
      if (p.failures >= this.opts.failureThreshold) p.healthy = false;
    }
    if (before !== p.healthy) {
      this.opts.logger.info({ node: name, healthy: p.healthy }, 'peer health changed');
      this.opts.onChange?.();
    }
  }
}
