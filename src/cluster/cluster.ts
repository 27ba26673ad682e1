import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname, networkInterfaces } from 'node:os';
import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { HealthChecker } from './health.js';
import { CHANNEL_MAGIC, type Channel, ChannelMux } from './membership/channels.js';
import { Keyring } from './membership/keyring.js';
import { Memberlist, splitHostPort } from './membership/memberlist.js';
import { decodeTags, encodeTags } from './membership/serf.js';
import type { MemberState, NodeInfo } from './membership/state.js';
import { resolveTimings, type Timings } from './membership/timings.js';

export type { Channel } from './membership/channels.js';
export type { MemberState } from './membership/state.js';

/** Channel carrying each node's traffic snapshot (~1/s). Ids 1–3 belong to the shared-state layer. */
export const CHANNEL_TRAFFIC = 16;

/** How often unchanged traffic figures are re-announced. */
const TRAFFIC_REFRESH_MS = 10_000;

export interface TrafficSnapshot {
  rps: number;
  in_flight: number;
  error_rate: number;
}

export interface ClusterOptions {
  config: ClusterConfig;
  /** This node's HTTP host:port, gossiped as the `http` tag. */
  httpAddress: string;
  version: string;
  logger: Logger;
  registry?: Registry;
  traffic?: () => TrafficSnapshot;
  /** Overrides the timings resolved from config (tests). */
  timings?: Timings;
  /** Startup join retries (after the first attempt). Default 10 attempts, 1 s doubling to 30 s. */
  joinRetry?: { attempts: number; initialMs: number; maxMs: number };
  /** How often to try to rejoin failed peers (serf's reconnect); default 10 s. */
  reconnectIntervalMs?: number;
  /** Replaces the /ready probe of peers (tests). */
  healthCheck?: (httpAddress: string, timeoutMs: number) => Promise<boolean>;
}

export interface ClusterMember {
  name: string;
  /** Gossip address host:port. */
  address: string;
  httpAddress: string;
  state: MemberState;
  incarnation: number;
  tags: Record<string, string>;
  healthy: boolean;
}

export interface ClusterNodeStatus {
  name: string;
  address: string;
  http_address: string;
  state: MemberState;
  healthy: boolean;
  incarnation: number;
  version: string;
  traffic: TrafficSnapshot | null;
}

export interface ClusterStatus {
  local_node: string;
  members: number;
  healthy_members: number;
  cluster_health: 'HEALTHY' | 'NOT HEALTHY';
  nodes: ClusterNodeStatus[];
}

export interface MemberEvent {
  type: 'join' | 'update' | 'leave';
  member: ClusterMember;
}

export declare interface Cluster {
  on(event: 'member', cb: (ev: MemberEvent) => void): this;
  on(event: 'health', cb: (health: 'HEALTHY' | 'NOT HEALTHY') => void): this;
}

/** The node's view of the cluster: gossip membership, peer health, traffic and the channel multiplexer. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads
export class Cluster extends EventEmitter {
  readonly localName: string;
  firstJoinDone = false;
  private readonly ml: Memberlist;
  private readonly mux: ChannelMux;
  private readonly health: HealthChecker;
  private readonly log: Logger;
  private readonly remoteTraffic = new Map<string, { t: TrafficSnapshot; at: number }>();
  private trafficTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Peers that failed (not left), remembered after memberlist drops them, so a healed partition re-merges. */
  private readonly failedPeers = new Map<string, { address: string; since: number }>();
  private lastHealth: 'HEALTHY' | 'NOT HEALTHY' | undefined;
  private lastTraffic = { json: '', at: 0 };
  private trafficToNewcomer = false;
  /** Decoded tags by meta buffer (memberlist replaces the buffer when a node's meta changes). */
  private readonly tagCache = new WeakMap<Buffer, Readonly<Record<string, string>>>();
  private stopped = false;
  private left = false;
  private joinedPromise: Promise<void> | undefined;

  constructor(private readonly opts: ClusterOptions) {
    super();
    const cfg = opts.config;
    this.log = opts.logger;
    const port = cfg.gossip.port;
    this.localName = cfg.node_name ?? `deepintshield-${hostname()}-${port}-${randomBytes(3).toString('hex')}`;
    const tags = { ...cfg.tags, http: opts.httpAddress, version: opts.version };
    const keys = [cfg.gossip.encryption_key, ...cfg.gossip.encryption_keys].filter(
      (k): k is string => typeof k === 'string' && k.length > 0,
    );
    this.mux = new ChannelMux(this.localName, this.log);
    this.ml = new Memberlist({
      name: this.localName,
      bindAddress: cfg.bind_address,
      bindPort: port,
      advertiseAddress: cfg.advertise_address,
      timings: opts.timings ?? resolveTimings(cfg.gossip.timings),
      keyring: keys.length > 0 ? Keyring.fromBase64(keys[0]!, keys.slice(1)) : undefined,
      label: cfg.gossip.label,
      delegateProtocol: cfg.gossip.delegate_protocol,
      meta: encodeTags(tags),
      logger: this.log,
      registry: opts.registry,
      delegate: this.mux,
      userStateMagic: CHANNEL_MAGIC,
      acceptsUserMessages: (n) => isGatewayNode(n),
    });
    this.mux.attach(this.ml);
    const hc = cfg.gossip.config;
    this.health = new HealthChecker({
      intervalMs: hc.interval_seconds * 1000,
      timeoutMs: hc.timeout_seconds * 1000,
      successThreshold: hc.success_threshold,
      failureThreshold: hc.failure_threshold,
      logger: this.log,
      check: opts.healthCheck,
      onChange: () => this.evaluateHealth(),
    });
    for (const ev of ['join', 'update', 'leave'] as const) {
      this.ml.on(ev, (n: NodeInfo) => {
        if (n.name !== this.localName) {
          if (n.state === 'dead')
            this.failedPeers.set(n.name, { address: formatHostPort(n.ip, n.port), since: Date.now() });
          else this.failedPeers.delete(n.name);
          this.logTransition(ev, n);
          if (ev === 'join') this.trafficToNewcomer = true;
        }
        this.syncHealthPeers();
        if (n.name !== this.localName) this.emit('member', { type: ev, member: this.toMember(n) });
      });
    }
    this.ml.on('change', () => this.syncHealthPeers());
    this.mux.channel(CHANNEL_TRAFFIC).onMessage((payload, from) => {
      if (!from || from === this.localName) return;
      try {
        const t = JSON.parse(payload.toString('utf8')) as Partial<TrafficSnapshot>;
        this.remoteTraffic.set(from, {
          t: {
            rps: Number(t.rps) || 0,
            in_flight: Number(t.in_flight) || 0,
            error_rate: Number(t.error_rate) || 0,
          },
          at: Date.now(),
        });
      } catch {
        // ignore malformed traffic reports
      }
    });
  }

  /** Binds the gossip port, then joins `peers` in the background (retrying with backoff). */
  async start(): Promise<void> {
    await this.ml.start();
    const a = this.ml.address;
    this.log.info({ node: this.localName, address: `${a.ip}:${a.port}` }, 'gossip started');
    this.health.start();
    this.evaluateHealth();
    if (this.opts.traffic) {
      this.trafficTimer = setInterval(() => this.publishTraffic(), 1000);
      this.trafficTimer.unref?.();
    }
    this.joinedPromise = this.startupJoin();
    const every = this.opts.reconnectIntervalMs ?? 10_000;
    this.reconnectTimer = setInterval(() => void this.reconnect(), every);
    this.reconnectTimer.unref?.();
  }

  /**
   * Like serf's reconnect: every interval, try a push-pull join to one failed
   * peer, and to the static seeds when none of them is a live member. After a
   * partition heals, this merges the two sides even once gossip to the dead
   * has given up. Failed peers are forgotten after 15 minutes.
   */
  private async reconnect(): Promise<void> {
    if (this.stopped || this.left) return;
    const now = Date.now();
    for (const [name, p] of this.failedPeers) if (now - p.since > 15 * 60_000) this.failedPeers.delete(name);
    const live = new Set(
      this.ml
        .members()
        .filter((n) => n.state === 'alive' || n.state === 'suspect')
        .map((n) => formatHostPort(n.ip, n.port)),
    );
    const failed = [...this.failedPeers.values()].map((p) => p.address).filter((a) => !live.has(a));
    const seeds = this.opts.config.peers.filter((p) => !live.has(p));
    const targets: string[] = [];
    if (failed.length > 0) targets.push(failed[Math.floor(Math.random() * failed.length)]!);
    if (seeds.length > 0 && seeds.length === this.opts.config.peers.length) targets.push(...seeds);
    if (targets.length === 0) return;
    const { contacted } = await this.ml.join([...new Set(targets)]).catch(() => ({ contacted: 0 }));
    if (contacted > 0) this.log.info({ peers: targets }, 'reconnected to failed peers');
  }

  /** Resolves once the first startup join attempt finished. */
  whenFirstJoinDone(): Promise<void> {
    return this.joinedPromise ?? Promise.resolve();
  }

  private async startupJoin(): Promise<void> {
    const peers = this.opts.config.peers.filter((p) => !this.isSelfAddress(p));
    if (peers.length === 0) {
      this.firstJoinDone = true;
      return;
    }
    const retry = this.opts.joinRetry ?? { attempts: 10, initialMs: 1000, maxMs: 30_000 };
    let n = await this.tryStartupJoin(peers);
    this.firstJoinDone = true;
    if (n > 0) return;
    let wait = retry.initialMs;
    for (let attempt = 1; attempt <= retry.attempts && !this.stopped && n === 0; attempt++) {
      await new Promise<void>((resolve) => {
        this.retryTimer = setTimeout(resolve, wait);
        this.retryTimer.unref?.();
      });
      if (this.stopped) return;
      // Someone may have joined us meanwhile.
      if (this.ml.numAlive() > 1) return;
      n = await this.tryStartupJoin(peers);
      wait = Math.min(retry.maxMs, wait * 2);
    }
  }

  private async tryStartupJoin(peers: string[]): Promise<number> {
    const { contacted, errors } = await this.ml.join(peers);
    if (contacted > 0)
      this.log.info({ peers: contacted }, `successfully joined ${contacted} peers on startup`);
    else this.log.warn({ peers, errors: errors.map((e) => e.message) }, 'failed to join cluster');
    return contacted;
  }

  /** Joins the given gossip addresses (host:port); returns how many were contacted. */
  async join(addresses: string[]): Promise<number> {
    addresses = addresses.filter((a) => !this.isSelfAddress(a));
    if (addresses.length === 0) return 0;
    const { contacted, errors } = await this.ml.join(addresses);
    if (contacted === 0 && addresses.length > 0)
      this.log.warn({ peers: addresses, errors: errors.map((e) => e.message) }, 'failed to join cluster');
    return contacted;
  }

  /** True for our own gossip address (advertised, bound, or any local interface IP with our port). */
  private isSelfAddress(addr: string): boolean {
    const self = this.ml.address;
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(addr, this.opts.config.gossip.port));
    } catch {
      return false;
    }
    if (port !== self.port) return false;
    if (host === self.ip || host === 'localhost' || host === '0.0.0.0' || host === '::') return true;
    const bind = this.opts.config.bind_address;
    if (bind !== '0.0.0.0' && bind !== '::') return host === bind;
    return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === host));
  }

  channel(id: number): Channel {
    return this.mux.channel(id);
  }

  members(): ClusterMember[] {
    return this.ml.members().map((n) => this.toMember(n));
  }

  /** The underlying memberlist (metrics, tests). */
  get memberlist(): Memberlist {
    return this.ml;
  }

  private toMember(n: NodeInfo): ClusterMember {
    let tags = this.tagCache.get(n.meta);
    if (!tags) {
      tags = Object.freeze(decodeTags(n.meta));
      this.tagCache.set(n.meta, tags);
    }
    return {
      name: n.name,
      address: formatHostPort(n.ip, n.port),
      httpAddress: tags.http ?? '',
      state: n.state,
      incarnation: n.incarnation,
      tags,
      healthy: this.isHealthy(n),
    };
  }

  private isHealthy(n: NodeInfo): boolean {
    if (n.state === 'dead' || n.state === 'left') return false;
    if (n.name === this.localName) return !this.stopped && !this.left;
    // A foreign member (e.g. a plain serf agent) has no /ready to poll: healthy while it is alive.
    if (!isGatewayNode(n)) return n.state === 'alive';
    return this.health.isHealthy(n.name);
  }

  status(): ClusterStatus {
    const nodes = this.ml.members();
    const live = nodes.filter((n) => n.state === 'alive' || n.state === 'suspect');
    const healthy = live.filter((n) => this.isHealthy(n)).length;
    const local = this.opts.traffic?.() ?? null;
    return {
      local_node: this.localName,
      members: live.length,
      healthy_members: healthy,
      cluster_health: healthy === live.length && live.length >= 1 ? 'HEALTHY' : 'NOT HEALTHY',
      nodes: nodes
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((n) => {
          const tags = decodeTags(n.meta);
          const traffic = n.name === this.localName ? local : (this.remoteTraffic.get(n.name)?.t ?? null);
          return {
            name: n.name,
            address: formatHostPort(n.ip, n.port),
            http_address: tags.http ?? '',
            state: n.state,
            healthy: this.isHealthy(n),
            incarnation: n.incarnation,
            version: tags.version ?? '',
            traffic,
          };
        }),
    };
  }

  private syncHealthPeers(): void {
    if (this.stopped) return;
    const peers = this.ml
      .members()
      .filter((n) => n.name !== this.localName && (n.state === 'alive' || n.state === 'suspect'))
      .map((n) => ({ name: n.name, httpAddress: decodeTags(n.meta).http ?? '', gossipIp: n.ip }))
      .filter((p) => p.httpAddress !== '');
    this.health.setPeers(peers);
    for (const name of this.remoteTraffic.keys()) {
      const m = this.ml.member(name);
      if (!m || m.state === 'dead' || m.state === 'left') this.remoteTraffic.delete(name);
    }
    this.evaluateHealth();
  }

  /** One line per membership transition, as serf logs its member events (update is too chatty). */
  private logTransition(ev: 'join' | 'update' | 'leave', n: NodeInfo): void {
    if (ev === 'update') return;
    const fields = { node: n.name, address: formatHostPort(n.ip, n.port), incarnation: n.incarnation };
    if (ev === 'join') this.log.info(fields, 'member joined');
    else if (n.state === 'left') this.log.info(fields, 'member left');
    else this.log.warn(fields, 'member failed');
  }

  private evaluateHealth(): void {
    if (this.stopped) return;
    const h = this.status().cluster_health;
    if (h === this.lastHealth) return;
    this.lastHealth = h;
    this.log.info({ members: this.ml.numAlive() }, `cluster health: ${h}`);
    this.emit('health', h);
  }

  private publishTraffic(): void {
    if (this.stopped || this.left || !this.opts.traffic || this.ml.numAlive() < 2) return;
    try {
      const t = this.opts.traffic();
      const json = JSON.stringify({ rps: t.rps, in_flight: t.in_flight, error_rate: t.error_rate });
      // An idle node's figures do not change: re-announce them only now and then (and to newcomers).
      const now = Date.now();
      if (
        json === this.lastTraffic.json &&
        now - this.lastTraffic.at < TRAFFIC_REFRESH_MS &&
        !this.trafficToNewcomer
      )
        return;
      this.lastTraffic = { json, at: now };
      this.trafficToNewcomer = false;
      this.mux.channel(CHANNEL_TRAFFIC).broadcast(Buffer.from(json), 'traffic');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'failed to broadcast');
    }
  }

  /** Graceful leave: the others see this node as `left` (serf too). */
  async leave(timeoutMs = 5000): Promise<void> {
    if (this.left || this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.ml.leave(timeoutMs);
    this.left = true;
    this.log.info({ node: this.localName }, 'left the cluster');
  }

  /** Stops gossip and health checks and closes the sockets (without leave, peers see a failure). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.trafficTimer) clearInterval(this.trafficTimer);
    if (this.reconnectTimer) clearInterval(this.reconnectTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.health.stop();
    await this.ml.shutdown();
  }
}

/** Our nodes carry the `http` tag; other memberlist/serf members do not. */
function isGatewayNode(n: NodeInfo): boolean {
  return decodeTags(n.meta).http !== undefined;
}

function formatHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
