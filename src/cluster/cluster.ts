import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { CHANNELS } from './channels.js';
import { HealthChecker } from './health.js';
import { type JoinRetry, startupJoin } from './join.js';
import { CHANNEL_MAGIC, type Channel, ChannelMux } from './membership/channels.js';
import { Keyring } from './membership/keyring.js';
import { Memberlist } from './membership/memberlist.js';
import { decodeTags, encodeTags } from './membership/serf.js';
import type { MemberState, NodeInfo } from './membership/state.js';
import { resolveTimings, type Timings } from './membership/timings.js';
import { NodeTrafficGossip, type TrafficSnapshot } from './node-traffic.js';
import { ReconnectLoop } from './reconnect.js';
import { formatHostPort, isSelfAddress } from './self-address.js';
import { type ClusterStatus, type StatusRow, StatusView } from './status.js';

export type { Channel } from './membership/channels.js';
export type { MemberState } from './membership/state.js';
export type { TrafficSnapshot } from './node-traffic.js';
export type { ClusterNodeStatus, ClusterStatus } from './status.js';

/** Channel carrying each node's traffic snapshot (registered in ./channels.ts). */
export const CHANNEL_TRAFFIC = CHANNELS.nodeTraffic;

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
  joinRetry?: JoinRetry;
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

export interface MemberEvent {
  type: 'join' | 'update' | 'leave';
  member: ClusterMember;
}

export declare interface Cluster {
  on(event: 'member', cb: (ev: MemberEvent) => void): this;
  on(event: 'health', cb: (health: 'HEALTHY' | 'NOT HEALTHY') => void): this;
}

/**
 * The membership facade: gossip membership (memberlist), peer health checks
 * and the channel multiplexer, plus the pieces that live in their own
 * modules: start-up join (join.ts), reconnect loop (reconnect.ts),
 * self-address detection (self-address.ts), per-node traffic gossip
 * (node-traffic.ts) and the incremental status view (status.ts).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads
export class Cluster extends EventEmitter {
  readonly localName: string;
  firstJoinDone = false;
  private readonly ml: Memberlist;
  private readonly mux: ChannelMux;
  private readonly health: HealthChecker;
  private readonly log: Logger;
  private readonly traffic: NodeTrafficGossip;
  private readonly reconnectLoop: ReconnectLoop;
  private readonly view: StatusView;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastHealth: 'HEALTHY' | 'NOT HEALTHY' | undefined;
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
      acceptsUserMessages: (n) => this.isGatewayNode(n),
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
      onChange: () => {
        this.view.healthChanged();
        this.evaluateHealth();
      },
    });
    this.traffic = new NodeTrafficGossip(
      this.mux.channel(CHANNEL_TRAFFIC),
      opts.traffic,
      this.localName,
      this.log,
    );
    this.reconnectLoop = new ReconnectLoop({
      seeds: cfg.peers,
      liveAddresses: () =>
        new Set(
          this.ml
            .members()
            .filter((n) => n.state === 'alive' || n.state === 'suspect')
            .map((n) => formatHostPort(n.ip, n.port)),
        ),
      join: (addrs) => this.ml.join(addrs),
      logger: this.log,
    });
    this.view = new StatusView({
      localName: this.localName,
      isHealthy: (r) => this.rowHealthy(r),
      traffic: (name) => this.traffic.of(name),
      incarnation: (name) => this.ml.member(name)?.incarnation,
    });
    for (const ev of ['join', 'update', 'leave'] as const) {
      this.ml.on(ev, (n: NodeInfo) => {
        if (n.name !== this.localName) {
          this.reconnectLoop.observe(n.name, n.state, formatHostPort(n.ip, n.port));
          this.logTransition(ev, n);
          if (ev === 'join') this.traffic.joined();
        }
        this.memberChanged(n);
        if (n.name !== this.localName) this.emit('member', { type: ev, member: this.toMember(n) });
      });
    }
    this.ml.on('change', (n: NodeInfo) => this.memberChanged(n));
  }

  /** Binds the gossip port, then joins `peers` in the background (retrying with backoff). */
  async start(): Promise<void> {
    await this.ml.start();
    const a = this.ml.address;
    this.log.info({ node: this.localName, address: `${a.ip}:${a.port}` }, 'gossip started');
    for (const n of this.ml.members()) this.view.upsert(this.row(n));
    this.health.start();
    this.evaluateHealth();
    this.traffic.start(() => !this.stopped && !this.left && this.ml.numAlive() >= 2);
    this.joinedPromise = startupJoin({
      peers: this.opts.config.peers.filter((p) => !this.isSelf(p)),
      retry: this.opts.joinRetry ?? { attempts: 10, initialMs: 1000, maxMs: 30_000 },
      join: (peers) => this.ml.join(peers),
      numAlive: () => this.ml.numAlive(),
      stopped: () => this.stopped,
      logger: this.log,
      onFirstAttempt: () => {
        this.firstJoinDone = true;
      },
      setTimer: (t) => {
        this.retryTimer = t;
      },
    });
    this.reconnectLoop.start(this.opts.reconnectIntervalMs ?? 10_000, () => !this.stopped && !this.left);
  }

  /** Resolves once the first startup join attempt finished. */
  whenFirstJoinDone(): Promise<void> {
    return this.joinedPromise ?? Promise.resolve();
  }

  /** Joins the given gossip addresses (host:port); returns how many were contacted. */
  async join(addresses: string[]): Promise<number> {
    addresses = addresses.filter((a) => !this.isSelf(a));
    if (addresses.length === 0) return 0;
    const { contacted, errors } = await this.ml.join(addresses);
    if (contacted === 0 && addresses.length > 0)
      this.log.warn({ peers: addresses, errors: errors.map((e) => e.message) }, 'failed to join cluster');
    return contacted;
  }

  private isSelf(addr: string): boolean {
    return isSelfAddress(addr, this.ml.address, {
      defaultPort: this.opts.config.gossip.port,
      bindAddress: this.opts.config.bind_address,
    });
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

  status(): ClusterStatus {
    return this.view.snapshot();
  }

  private tagsOf(n: NodeInfo): Readonly<Record<string, string>> {
    let tags = this.tagCache.get(n.meta);
    if (!tags) {
      tags = Object.freeze(decodeTags(n.meta));
      this.tagCache.set(n.meta, tags);
    }
    return tags;
  }

  /** Our nodes carry the `http` tag; other memberlist/serf members do not. */
  private isGatewayNode(n: NodeInfo): boolean {
    return this.tagsOf(n).http !== undefined;
  }

  private row(n: NodeInfo): StatusRow {
    const tags = this.tagsOf(n);
    return {
      name: n.name,
      address: formatHostPort(n.ip, n.port),
      httpAddress: tags.http ?? '',
      state: n.state,
      incarnation: n.incarnation,
      version: tags.version ?? '',
    };
  }

  private toMember(n: NodeInfo): ClusterMember {
    const tags = this.tagsOf(n);
    return {
      name: n.name,
      address: formatHostPort(n.ip, n.port),
      httpAddress: tags.http ?? '',
      state: n.state,
      incarnation: n.incarnation,
      tags,
      healthy: this.isHealthy(n.name, n.state, tags.http !== undefined),
    };
  }

  private rowHealthy(r: StatusRow): boolean {
    return this.isHealthy(r.name, r.state, r.httpAddress !== '');
  }

  private isHealthy(name: string, state: MemberState, gateway: boolean): boolean {
    if (state === 'dead' || state === 'left') return false;
    if (name === this.localName) return !this.stopped && !this.left;
    // A foreign member (e.g. a plain serf agent) has no /ready to poll: healthy while it is alive.
    if (!gateway) return state === 'alive';
    return this.health.isHealthy(name);
  }

  /** One member changed: its status row, the peers to health-check, the traffic it reported. */
  private memberChanged(n: NodeInfo): void {
    if (this.stopped) return;
    this.view.upsert(this.row(n));
    if (n.state === 'dead' || n.state === 'left') this.traffic.forget(n.name);
    const peers = this.ml
      .members()
      .filter((m) => m.name !== this.localName && (m.state === 'alive' || m.state === 'suspect'))
      .map((m) => ({ name: m.name, httpAddress: this.tagsOf(m).http ?? '', gossipIp: m.ip }))
      .filter((p) => p.httpAddress !== '');
    this.health.setPeers(peers);
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
    const h = this.view.summary().cluster_health;
    if (h === this.lastHealth) return;
    this.lastHealth = h;
    this.log.info({ members: this.ml.numAlive() }, `cluster health: ${h}`);
    this.emit('health', h);
  }

  /** Graceful leave: the others see this node as `left` (serf too). */
  async leave(timeoutMs = 5000): Promise<void> {
    if (this.left || this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.ml.leave(timeoutMs);
    this.left = true;
    this.view.healthChanged();
    this.log.info({ node: this.localName }, 'left the cluster');
  }

  /** Stops gossip and health checks and closes the sockets (without leave, peers see a failure). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.view.healthChanged();
    this.traffic.stop();
    this.reconnectLoop.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.health.stop();
    await this.ml.shutdown();
  }
}
