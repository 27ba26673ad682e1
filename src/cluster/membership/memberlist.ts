import type { RemoteInfo } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue } from './broadcast.js';
import { ENCRYPT_OVERHEAD, type Keyring } from './keyring.js';
import {
  type Alive,
  ackFrom,
  COMPOUND_HEADER_OVERHEAD,
  COMPOUND_OVERHEAD,
  type Dead,
  encodeAck,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodeSuspect,
  encodeUser,
  errFrom,
  type IndirectPing,
  MAX_U32,
  MsgType,
  makeCompound,
  type Ping,
  type PushNodeState,
  pingFrom,
  type Suspect,
  UDP_BUFFER_SIZE,
} from './messages.js';
import { createGossipMetrics, type GossipMetrics } from './metrics.js';
import { asObject, fUint } from './msgpack.js';
import {
  DropError,
  decodeMessages,
  MAX_STREAM_BYTES,
  type Message,
  readStreamFrame,
  unwrapPacket,
  wrapPacket,
  wrapStream,
} from './packet.js';
import { encodePushPull, type RemoteState, readPushPull, verifyProtocol } from './pushpull.js';
import { encodeSerfLeave, serfLTime } from './serf.js';
import {
  bytesToIp,
  ipToBytes,
  type MemberState,
  type NodeInfo,
  type NodeState,
  NodeTable,
  STATE_NUM,
  snapshot,
} from './state.js';
import { type Effect, MembershipStateMachine } from './state-machine.js';
import { Suspicion } from './suspicion.js';
import { PROFILES, pushPullScale, type Timings } from './timings.js';
import {
  ByteBudget,
  type PacketTransport,
  StreamLimitError,
  StreamReader,
  TimeoutError,
  Transport,
  type TransportFactory,
} from './transport.js';

/** Hooks for the layer above (user messages and push/pull user state). */
export interface Delegate {
  notifyMsg?(payload: Buffer): void;
  localState?(join: boolean): Buffer;
  mergeRemoteState?(buf: Buffer, join: boolean): void;
}

export interface MemberlistOptions {
  name: string;
  bindAddress: string;
  /** 0 = pick a free port. */
  bindPort: number;
  advertiseAddress?: string;
  advertisePort?: number;
  timings?: Timings;
  keyring?: Keyring;
  /** memberlist >= 0.3 packet/stream label ('' = none, required to talk to serf 0.9). */
  label?: string;
  /** Application ("delegate") protocol versions put in Vsn; serf's are 2,5,5. */
  delegateProtocol?: { min: number; max: number; version: number };
  meta?: Buffer;
  /** LZW-compress UDP packets when that makes them smaller (default true). */
  compression?: boolean;
  /** Send serf's leave intent before leaving so serf shows `left` (default true). */
  serfLeaveIntent?: boolean;
  logger: Logger;
  registry?: Registry;
  delegate?: Delegate;
  maxBroadcastQueue?: number;
  /**
   * Whether a node takes our user messages and user state (default: all). Others (e.g. plain serf
   * agents, which log every unknown message) get neither channel broadcasts nor our push/pull user state.
   */
  acceptsUserMessages?: (node: NodeInfo) => boolean;
  /** Fault injection for tests and benches: return true to drop an inbound UDP packet. */
  dropInbound?: (ip: string, port: number) => boolean;
  /** Network override (in-memory network of the simulator); default: real UDP + TCP. */
  transport?: TransportFactory;
  /** First byte of our push/pull user state; a peer sending another one gets no user state back. */
  userStateMagic?: number;
}

/** Counters of the probe loop (also useful in tests and benches). */
export interface ProbeStats {
  probes: number;
  directAcks: number;
  indirectAcks: number;
  tcpFallbackAcks: number;
  suspicionsRaised: number;
}

const PROTOCOL_MIN = 1;
const PROTOCOL_MAX = 5;
const PROTOCOL_CUR = 2;
const MAX_INBOUND_STREAMS = 128;
/** Concurrent inbound streams one source address may hold open. */
const MAX_STREAMS_PER_SOURCE = 4;
/** Bytes all streams together may buffer beyond their read windows (a 20 MiB push/pull fits three times). */
const STREAM_BUFFER_BUDGET = 64 * 1024 * 1024;

interface AckWaiter {
  onAck: (payload: Buffer) => void;
  onNack: () => void;
  timer: NodeJS.Timeout;
}

export declare interface Memberlist {
  on(event: 'join' | 'leave' | 'update' | 'change', cb: (node: NodeInfo) => void): this;
}

/** A SWIM + Lifeguard gossip member, wire-compatible with HashiCorp memberlist (and so with serf). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads
export class Memberlist extends EventEmitter {
  readonly name: string;
  readonly timings: Timings;
  readonly metrics: GossipMetrics;
  private readonly log: Logger;
  private readonly nodes = new NodeTable();
  private readonly transport: PacketTransport;
  private readonly awareness: Awareness;
  readonly broadcasts: BroadcastQueue;
  private readonly ackHandlers = new Map<number, AckWaiter>();
  private readonly vsn: Buffer;
  private meta: Buffer;
  private advertiseIp = '';
  private advertisePort = 0;
  private seqNo = 0;
  private readonly sm: MembershipStateMachine;
  private probeIndex = 0;
  private probing = false;
  private leaving = false;
  private stopped = false;
  private started = false;
  private inboundStreams = 0;
  private readonly streamsBySource = new Map<string, number>();
  private readonly streamBudget = new ByteBudget(STREAM_BUFFER_BUDGET);
  private serfClock = 0;
  private timers: NodeJS.Timeout[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private gossipTimer: NodeJS.Timeout | undefined;
  readonly stats: ProbeStats = {
    probes: 0,
    directAcks: 0,
    indirectAcks: 0,
    tcpFallbackAcks: 0,
    suspicionsRaised: 0,
  };

  constructor(private readonly opts: MemberlistOptions) {
    super();
    this.name = opts.name;
    this.log = opts.logger;
    this.timings = opts.timings ?? PROFILES.lan;
    this.metrics = createGossipMetrics(opts.registry);
    this.awareness = new Awareness(this.timings.awarenessMaxMultiplier);
    const d = opts.delegateProtocol ?? { min: 2, max: 5, version: 5 };
    this.vsn = Buffer.from([PROTOCOL_MIN, PROTOCOL_MAX, PROTOCOL_CUR, d.min, d.max, d.version]);
    this.meta = opts.meta ?? Buffer.alloc(0);
    this.sm = new MembershipStateMachine({
      local: {
        name: this.name,
        leaving: () => this.leaving,
        meta: () => this.meta,
        vsn: () => this.vsn,
        advertise: () => ({ ip: this.advertiseIp, port: this.advertisePort }),
      },
      nodes: this.nodes,
      now: () => Date.now(),
      suspicionMult: this.timings.suspicionMult,
      suspicionMaxTimeoutMult: this.timings.suspicionMaxTimeoutMult,
      probeIntervalMs: this.timings.probeInterval,
      estNumNodes: () => this.estNumNodes(),
    });
    this.broadcasts = new BroadcastQueue(
      () => this.timings.retransmitMult,
      () => this.estNumNodes(),
      opts.maxBroadcastQueue ?? 4096,
      (n) => this.log.warn({ dropped: n }, 'failed to broadcast'),
      () => this.armGossip(),
    );
    const make: TransportFactory = opts.transport ?? ((o) => new Transport(o));
    this.transport = make({
      bindAddress: opts.bindAddress,
      port: opts.bindPort,
      onPacket: (buf, from) => this.ingestPacket(buf, from),
      onStream: (sock) => void this.handleStream(sock),
    });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.started) throw new Error('memberlist already started');
    this.started = true;
    await this.transport.start();
    this.advertiseIp = this.opts.advertiseAddress || defaultAdvertise(this.opts.bindAddress);
    this.advertisePort = this.opts.advertisePort || this.transport.port;
    ipToBytes(this.advertiseIp);
    this.incarnation = 1;
    this.aliveNode(
      {
        incarnation: this.incarnation,
        node: this.name,
        addr: ipToBytes(this.advertiseIp),
        port: this.advertisePort,
        meta: this.meta,
        vsn: this.vsn,
      },
      true,
    );
    this.scheduleProbe(this.timings.probeInterval);
    this.armGossip();
    this.schedulePushPull(Math.random() * this.timings.pushPullInterval);
    const m = setInterval(() => this.updateGauges(), 1000);
    this.timers.push(m);
    for (const t of this.timers) t.unref?.();
  }

  get address(): { ip: string; port: number } {
    return { ip: this.advertiseIp, port: this.advertisePort };
  }

  get localIncarnation(): number {
    return this.incarnation;
  }

  get healthScore(): number {
    return this.awareness.healthScore;
  }

  get hasLeft(): boolean {
    return this.leaving;
  }

  /** Stops all activity and closes the sockets without telling anyone (peers see a failure). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.gossipTimer) clearInterval(this.gossipTimer);
    this.gossipTimer = undefined;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    for (const w of this.ackHandlers.values()) clearTimeout(w.timer);
    this.ackHandlers.clear();
    for (const n of this.nodes.byName.values()) n.suspicion?.cancel();
    this.broadcasts.reset();
    await this.transport.close();
  }

  /**
   * Graceful leave: serf leave intent (so serf shows `left`), then dead{self, From: self}; waits until
   * the broadcasts went out (or timeoutMs). Keeps answering until shutdown().
   */
  async leave(timeoutMs = 5000): Promise<void> {
    if (this.leaving || this.stopped) return;
    const deadline = Date.now() + timeoutMs;
    const others = [...this.nodes.byName.values()].filter(
      (n) => n.name !== this.name && (n.state === 'alive' || n.state === 'suspect'),
    );
    if (others.length > 0 && this.opts.serfLeaveIntent !== false) {
      this.serfClock++;
      const intent = encodeUser(encodeSerfLeave(this.serfClock, this.name));
      await Promise.allSettled(others.map((n) => this.sendPacket(n.ip, n.port, intent, n)));
      await this.queueAndWait(intent, `serf-leave:${this.name}`, Math.min(deadline, Date.now() + 1000));
    }
    this.leaving = true;
    const self = this.nodes.get(this.name);
    if (!self) return;
    const d: Dead = { incarnation: self.incarnation, node: this.name, from: this.name };
    if (others.length === 0) {
      this.deadNode(d);
      return;
    }
    const done = new Promise<void>((resolve) => {
      this.deadNode(d, resolve);
    });
    await Promise.race([done, delay(Math.max(0, deadline - Date.now()))]);
  }

  private queueAndWait(msg: Buffer, key: string, until: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, until - Date.now()));
      this.broadcasts.queue(msg, key, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------ public queries and actions

  members(): NodeInfo[] {
    return [...this.nodes.byName.values()].map(snapshot);
  }

  member(name: string): NodeInfo | undefined {
    const n = this.nodes.get(name);
    return n ? snapshot(n) : undefined;
  }

  numAlive(): number {
    return this.nodes.count((n) => n.state === 'alive' || n.state === 'suspect');
  }

  estNumNodes(): number {
    return Math.max(1, this.nodes.size);
  }

  /** Changes this node's meta (≤ 512 B) and gossips a new alive with a higher incarnation. */
  setMeta(meta: Buffer): void {
    this.meta = meta;
    if (!this.started || this.stopped) return;
    const inc = this.nextIncarnation();
    this.aliveNode(
      {
        incarnation: inc,
        node: this.name,
        addr: ipToBytes(this.advertiseIp),
        port: this.advertisePort,
        meta,
        vsn: this.vsn,
      },
      true,
    );
  }

  /** Queues a user message for gossip (piggybacked and retransmitted). */
  queueUserBroadcast(payload: Buffer, key?: string): void {
    this.broadcasts.queue(encodeUser(payload), key, undefined, true);
    this.metrics.queueDepth.set(this.broadcasts.length);
  }

  /** Sends a user message to one node: UDP when it fits in a packet, else a TCP stream. */
  async sendUserMsg(nodeName: string, payload: Buffer): Promise<void> {
    const n = this.nodes.get(nodeName);
    if (!n) throw new Error(`unknown node ${nodeName}`);
    const msg = encodeUser(payload);
    if (msg.length + this.packetOverhead() <= UDP_BUFFER_SIZE) {
      await this.sendPacket(n.ip, n.port, msg, n);
      return;
    }
    const sock = await this.transport.dial(n.ip, n.port, this.timings.tcpTimeout);
    try {
      const len = Buffer.from([0x81, 0xaa, ...Buffer.from('UserMsgLen'), 0xce, 0, 0, 0, 0]);
      len.writeUInt32BE(payload.length, len.length - 4);
      await this.writeStream(sock, Buffer.concat([Buffer.from([MsgType.user]), len, payload]), true);
      await new Promise<void>((resolve) => sock.end(resolve));
    } finally {
      sock.destroy();
    }
  }

  /**
   * Joins via TCP push/pull (Join=true) with each `host[:port]`; returns how many were contacted
   * successfully and the errors of the others.
   */
  async join(addresses: string[]): Promise<{ contacted: number; errors: Error[] }> {
    let contacted = 0;
    const errors: Error[] = [];
    for (const a of addresses) {
      try {
        const { host, port } = splitHostPort(a, this.advertisePort || this.opts.bindPort);
        const ips = isIP(host) ? [host] : (await lookup(host, { all: true })).map((r) => r.address);
        let ok = false;
        let last: Error | undefined;
        for (const ip of ips) {
          try {
            await this.pushPullNode(ip, port, true);
            ok = true;
            break;
          } catch (e) {
            last = e as Error;
          }
        }
        if (ok) contacted++;
        else throw last ?? new Error(`no addresses for ${a}`);
      } catch (e) {
        errors.push(new Error(`${a}: ${(e as Error).message}`));
      }
    }
    return { contacted, errors };
  }

  // ------------------------------------------------------------------ sending

  private packetOverhead(): number {
    return (
      (this.opts.keyring ? ENCRYPT_OVERHEAD : 0) +
      (this.opts.label ? 2 + Buffer.byteLength(this.opts.label) : 0) +
      5 /* CRC */
    );
  }

  private readonly acceptsCache = new WeakMap<Buffer, boolean>();

  private accepts(node: NodeState | undefined): boolean {
    if (!node) return false;
    const f = this.opts.acceptsUserMessages;
    if (!f) return true;
    // Cached per meta buffer (a new alive with new meta replaces the buffer).
    let v = this.acceptsCache.get(node.meta);
    if (v === undefined) {
      v = f(snapshot(node));
      this.acceptsCache.set(node.meta, v);
    }
    return v;
  }

  /** Sends one message, topped up with queued broadcasts into a compound. */
  private async sendPacket(
    ip: string,
    port: number,
    msg: Buffer,
    node?: NodeState,
    dest: NodeState | undefined = node,
  ): Promise<void> {
    const avail = UDP_BUFFER_SIZE - msg.length - COMPOUND_HEADER_OVERHEAD - this.packetOverhead();
    const extra =
      avail > 0 ? this.broadcasts.getBroadcasts(COMPOUND_OVERHEAD, avail, this.accepts(dest)) : [];
    const packet = extra.length === 0 ? msg : makeCompound([msg, ...extra]);
    await this.rawSend(ip, port, packet, node);
  }

  private async rawSend(ip: string, port: number, packet: Buffer, node?: NodeState): Promise<void> {
    const p = wrapPacket(packet, this.opts, {
      compress: this.opts.compression !== false,
      crc: node !== undefined && (node.vsn[1] ?? 0) >= 5,
    });
    this.metrics.bytesOut.inc({ transport: 'udp' }, p.length);
    this.metrics.packetsOut.inc({ transport: 'udp' });
    await this.transport.sendUdp(p, ip, port);
  }

  /** Writes one stream message (label header when dialing, encryption envelope when keyed). */
  private async writeStream(sock: Duplex, msg: Buffer, dialer: boolean): Promise<void> {
    const out = wrapStream(msg, this.opts, dialer);
    this.metrics.bytesOut.inc({ transport: 'tcp' }, out.length);
    this.metrics.packetsOut.inc({ transport: 'tcp' });
    await new Promise<void>((resolve, reject) => sock.write(out, (e) => (e ? reject(e) : resolve())));
  }

  // ------------------------------------------------------------------ inbound UDP

  private ingestPacket(buf: Buffer, from: Pick<RemoteInfo, 'address' | 'port'>): void {
    if (this.stopped) return;
    if (this.opts.dropInbound?.(from.address, from.port)) return;
    this.metrics.bytesIn.inc({ transport: 'udp' }, buf.length);
    this.metrics.packetsIn.inc({ transport: 'udp' });
    let msgs: Message[];
    try {
      msgs = decodeMessages(unwrapPacket(buf, this.opts), [], (reason, err) => this.drop(reason, err));
    } catch (e) {
      if (e instanceof DropError) this.drop(e.reason, e);
      else this.drop('malformed', e);
      return;
    }
    for (const m of msgs) {
      try {
        this.dispatch(m, from);
      } catch (e) {
        this.drop('malformed', e);
      }
    }
  }

  private drop(reason: string, err?: unknown): void {
    this.metrics.dropped.inc({ reason });
    this.log.debug({ reason, err: err instanceof Error ? err.message : undefined }, 'gossip packet dropped');
  }

  private dispatch(m: Message, from: Pick<RemoteInfo, 'address' | 'port'>): void {
    switch (m.type) {
      case 'ping': {
        this.handlePing(m.msg, from);
        return;
      }
      case 'indirectPing': {
        this.handleIndirectPing(m.msg, from);
        return;
      }
      case 'ack':
        this.ackHandlers.get(m.msg.seqNo)?.onAck(m.msg.payload);
        return;
      case 'nack':
        this.ackHandlers.get(m.msg.seqNo)?.onNack();
        return;
      case 'suspect': {
        this.suspectNode(m.msg);
        return;
      }
      case 'alive': {
        const v = m.msg.vsn;
        if (v.length === 6 && (v[0] === 0 || v[1] === 0 || v[0]! > v[1]!)) return;
        this.aliveNode(m.msg, false);
        return;
      }
      case 'dead': {
        this.deadNode(m.msg);
        return;
      }
      case 'user': {
        this.handleUser(m.payload);
        return;
      }
    }
  }

  private handleUser(payload: Buffer): void {
    if (payload.length === 0) return;
    const lt = serfLTime(payload);
    if (lt !== undefined && lt > this.serfClock) this.serfClock = lt;
    try {
      this.opts.delegate?.notifyMsg?.(payload);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'user message handler failed');
    }
  }

  private handlePing(p: Ping, from: Pick<RemoteInfo, 'address' | 'port'>): void {
    if (p.node && p.node !== this.name) {
      this.drop('wrong_node');
      return;
    }
    const ack = encodeAck({ seqNo: p.seqNo, payload: Buffer.alloc(0) });
    let ip = from.address;
    let port = from.port;
    if (p.sourceAddr && p.sourceAddr.length > 0 && p.sourcePort) {
      ip = bytesToIp(p.sourceAddr);
      port = p.sourcePort;
    }
    const dest = p.sourceNode ? this.nodes.get(p.sourceNode) : this.nodes.findByAddr(ip, port);
    this.sendPacket(ip, port, ack, undefined, dest).catch((e) =>
      this.log.debug({ err: e.message }, 'failed to send ack'),
    );
  }

  private handleIndirectPing(ind: IndirectPing, from: Pick<RemoteInfo, 'address' | 'port'>): void {
    const seq = this.nextSeq();
    let ip = from.address;
    let port = from.port;
    if (ind.sourceAddr && ind.sourceAddr.length > 0 && ind.sourcePort) {
      ip = bytesToIp(ind.sourceAddr);
      port = ind.sourcePort;
    }
    let answered = false;
    const reply = (msg: Buffer) => {
      if (answered) return;
      answered = true;
      this.sendPacket(ip, port, msg).catch(() => {});
    };
    this.setAckHandler(
      seq,
      () => reply(encodeAck({ seqNo: ind.seqNo, payload: Buffer.alloc(0) })),
      () => {},
      this.timings.probeTimeout,
      () => {
        if (ind.nack) reply(encodeNack({ seqNo: ind.seqNo }));
      },
    );
    const ping = encodePing({ seqNo: seq, node: ind.node, ...this.sourceFields() });
    this.sendPacket(bytesToIp(ind.target), ind.port, ping).catch(() => {});
  }

  private sourceFields(): Pick<Ping, 'sourceAddr' | 'sourcePort' | 'sourceNode'> {
    return { sourceAddr: ipToBytes(this.advertiseIp), sourcePort: this.advertisePort, sourceNode: this.name };
  }

  private setAckHandler(
    seq: number,
    onAck: (payload: Buffer) => void,
    onNack: () => void,
    timeoutMs: number,
    onTimeout?: () => void,
  ): void {
    const timer = setTimeout(() => {
      this.ackHandlers.delete(seq);
      onTimeout?.();
    }, timeoutMs);
    timer.unref?.();
    this.ackHandlers.set(seq, {
      onAck: (payload) => {
        clearTimeout(timer);
        this.ackHandlers.delete(seq);
        onAck(payload);
      },
      onNack,
      timer,
    });
  }

  private nextSeq(): number {
    this.seqNo = (this.seqNo + 1) % (MAX_U32 + 1);
    return this.seqNo;
  }

  private nextIncarnation(): number {
    return this.sm.nextIncarnation();
  }

  /** The local incarnation lives in the state machine, which refutes with it. */
  private get incarnation(): number {
    return this.sm.incarnation;
  }

  private set incarnation(v: number) {
    this.sm.incarnation = v;
  }

  // ------------------------------------------------------------------ inbound TCP

  private async handleStream(sock: Duplex): Promise<void> {
    const source = (sock as { remoteAddress?: string }).remoteAddress ?? 'unknown';
    const fromSource = this.streamsBySource.get(source) ?? 0;
    if (this.stopped || this.inboundStreams >= MAX_INBOUND_STREAMS || fromSource >= MAX_STREAMS_PER_SOURCE) {
      this.drop('too_many_streams');
      sock.destroy();
      return;
    }
    this.inboundStreams++;
    this.streamsBySource.set(source, fromSource + 1);
    this.metrics.packetsIn.inc({ transport: 'tcp' });
    let bytes = 0;
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    const r = new StreamReader(sock, MAX_STREAM_BYTES, this.timings.tcpTimeout, this.streamBudget);
    try {
      const { type, r: body } = await readStreamFrame(r, this.opts, true);
      switch (type) {
        case MsgType.ping: {
          const p = pingFrom(await body.readMsgpack());
          if (p.node && p.node !== this.name) break;
          await this.writeStream(sock, encodeAck({ seqNo: p.seqNo, payload: Buffer.alloc(0) }), false);
          break;
        }
        case MsgType.user: {
          const h = asObject(await body.readMsgpack(), 'user header');
          const n = fUint(h, 'UserMsgLen', 20 * 1024 * 1024);
          const payload = n > 0 ? Buffer.from(await body.readBytes(n)) : Buffer.alloc(0);
          this.handleUser(payload);
          break;
        }
        case MsgType.pushPull: {
          const remote = await readPushPull(body);
          // A peer whose user state is not ours (serf's starts with 0x02) gets none of ours.
          const magic = this.opts.userStateMagic;
          const foreign = magic !== undefined && remote.userState.length > 0 && remote.userState[0] !== magic;
          await this.writeStream(sock, this.localState(remote.join, !foreign), false);
          try {
            this.mergeRemote(remote);
          } catch (e) {
            this.log.warn({ err: (e as Error).message }, 'failed to merge remote state');
            this.drop('incompatible');
          }
          break;
        }
        case MsgType.err:
          this.log.debug({ err: errFrom(await body.readMsgpack()) }, 'remote stream error');
          break;
        default:
          this.drop('unknown_type');
      }
    } catch (e) {
      if (e instanceof DropError) this.drop(e.reason, e);
      else if (e instanceof StreamLimitError) this.drop('oversized', e);
      else if (e instanceof TimeoutError) {
        this.drop('timeout');
        this.log.debug({ err: e.message }, 'timeout waiting for response');
      } else this.drop('malformed', e);
    } finally {
      this.metrics.bytesIn.inc({ transport: 'tcp' }, bytes);
      r.done();
      this.inboundStreams--;
      const left = (this.streamsBySource.get(source) ?? 1) - 1;
      if (left > 0) this.streamsBySource.set(source, left);
      else this.streamsBySource.delete(source);
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref?.();
    }
  }

  // ------------------------------------------------------------------ push/pull

  private pushNodeStates(): PushNodeState[] {
    return [...this.nodes.byName.values()].map((n) => ({
      name: n.name,
      addr: n.addr,
      port: n.port,
      meta: n.meta,
      incarnation: n.incarnation,
      state: STATE_NUM[n.state],
      vsn: n.vsn,
    }));
  }

  private localState(join: boolean, withUserState = true): Buffer {
    const nodes = this.pushNodeStates();
    let user: Buffer = Buffer.alloc(0);
    try {
      if (withUserState) user = this.opts.delegate?.localState?.(join) ?? Buffer.alloc(0);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'local state delegate failed');
    }
    return encodePushPull(join, nodes, user);
  }

  private mergeRemote(remote: RemoteState): void {
    const local = this.pushNodeStates();
    verifyProtocol(local, remote.nodes);
    this.apply(this.sm.mergeRemote(remote.nodes));
    if (remote.userState.length > 0) {
      const lt = serfLTime(remote.userState);
      if (lt !== undefined && lt > this.serfClock) this.serfClock = lt;
      try {
        this.opts.delegate?.mergeRemoteState?.(remote.userState, remote.join);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'remote state delegate failed');
      }
    }
  }

  /** Initiates a push/pull exchange with ip:port and merges the answer. */
  async pushPullNode(ip: string, port: number, join: boolean, node?: NodeState): Promise<void> {
    const sock = await this.transport.dial(ip, port, this.timings.tcpTimeout);
    const r = new StreamReader(sock, MAX_STREAM_BYTES, this.timings.tcpTimeout, this.streamBudget);
    let bytes = 0;
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    try {
      const known = node ?? this.nodes.findByAddr(ip, port);
      await this.writeStream(sock, this.localState(join, !known || this.accepts(known)), true);
      const { type, r: body } = await readStreamFrame(r, this.opts, false);
      if (type === MsgType.err) {
        throw new Error(`remote error: ${errFrom(await body.readMsgpack())}`);
      }
      if (type !== MsgType.pushPull) throw new Error(`unexpected message type ${type} in push/pull reply`);
      const remote = await readPushPull(body);
      this.mergeRemote(remote);
    } finally {
      r.done();
      this.metrics.bytesIn.inc({ transport: 'tcp' }, bytes);
      sock.destroy();
    }
  }

  private schedulePushPull(ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(async () => {
      this.timers = this.timers.filter((x) => x !== t);
      const candidates = [...this.nodes.byName.values()].filter(
        (n) => n.name !== this.name && n.state === 'alive',
      );
      const target = candidates[Math.floor(Math.random() * candidates.length)];
      if (target && !this.leaving) {
        try {
          await this.pushPullNode(target.ip, target.port, false, target);
        } catch (e) {
          if (e instanceof TimeoutError) this.log.warn({ node: target.name }, 'timeout waiting for response');
          else this.log.debug({ node: target.name, err: (e as Error).message }, 'push/pull failed');
        }
      }
      this.schedulePushPull(pushPullScale(this.timings.pushPullInterval, this.numAlive()));
    }, ms);
    t.unref?.();
    this.timers.push(t);
  }

  // ------------------------------------------------------------------ gossip

  /** Gossip runs every gossipInterval while there is something to send; an empty queue stops it. */
  private armGossip(): void {
    if (this.gossipTimer || this.stopped || !this.started) return;
    this.gossipTimer = setInterval(() => this.gossip(), this.timings.gossipInterval);
    this.gossipTimer.unref?.();
  }

  private gossip(): void {
    if (this.stopped) return;
    this.metrics.queueDepth.set(this.broadcasts.length);
    if (this.broadcasts.length === 0) {
      clearInterval(this.gossipTimer);
      this.gossipTimer = undefined;
      return;
    }
    const now = Date.now();
    const targets = this.randomNodes(
      this.timings.gossipNodes,
      (n) =>
        n.name !== this.name &&
        (n.state === 'alive' ||
          n.state === 'suspect' ||
          now - n.stateChange < this.timings.gossipToTheDeadTime),
    );
    const avail = UDP_BUFFER_SIZE - COMPOUND_HEADER_OVERHEAD - this.packetOverhead();
    for (const n of targets) {
      const msgs = this.broadcasts.getBroadcasts(COMPOUND_OVERHEAD, avail, this.accepts(n));
      if (msgs.length === 0) continue;
      const packet = msgs.length === 1 ? msgs[0]! : makeCompound(msgs);
      this.rawSend(n.ip, n.port, packet, n).catch((e) =>
        this.log.warn({ node: n.name, err: (e as Error).message }, 'failed to broadcast'),
      );
    }
    this.metrics.queueDepth.set(this.broadcasts.length);
  }

  /**
   * Up to k distinct random nodes passing `accept`, by sampling (at most 3·n draws, as memberlist's
   * kRandomNodes): O(k) in a large cluster instead of filtering and shuffling the whole table.
   */
  private randomNodes(k: number, accept: (n: NodeState) => boolean): NodeState[] {
    const list = this.nodes.list;
    const n = list.length;
    const out: NodeState[] = [];
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const c = list[Math.floor(Math.random() * n)]!;
      if (accept(c) && !out.includes(c)) out.push(c);
    }
    return out;
  }

  // ------------------------------------------------------------------ probing

  private scheduleProbe(ms: number): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => {
      const next = this.awareness.scale(this.timings.probeInterval);
      this.scheduleProbe(next);
      if (!this.probing) {
        this.probing = true;
        this.probe()
          .catch((e) => this.log.debug({ err: (e as Error).message }, 'probe failed'))
          .finally(() => {
            this.probing = false;
          });
      }
    }, ms);
    this.probeTimer.unref?.();
  }

  private async probe(): Promise<void> {
    let checked = 0;
    for (;;) {
      if (checked >= this.nodes.list.length) return;
      if (this.probeIndex >= this.nodes.list.length) {
        this.resetNodes();
        this.probeIndex = 0;
        checked++;
        continue;
      }
      const n = this.nodes.list[this.probeIndex++]!;
      checked++;
      if (n.name === this.name || n.state === 'dead' || n.state === 'left') continue;
      await this.probeNode(n);
      return;
    }
  }

  /** Drops dead/left nodes older than GossipToTheDeadTime and reshuffles the probe order. */
  private resetNodes(): void {
    const now = Date.now();
    for (const n of [...this.nodes.list]) {
      if (
        (n.state === 'dead' || n.state === 'left') &&
        now - n.stateChange > this.timings.gossipToTheDeadTime
      ) {
        if (n.name !== this.name) this.nodes.remove(n.name);
      }
    }
    this.nodes.shuffle();
  }

  private async probeNode(node: NodeState): Promise<void> {
    const interval = this.awareness.scale(this.timings.probeInterval);
    const start = Date.now();
    const deadline = start + interval;
    const seq = this.nextSeq();
    let acked = false;
    let nacks = 0;
    let wake: (() => void) | undefined;
    this.setAckHandler(
      seq,
      () => {
        if (!acked) this.metrics.probeRtt.observe((Date.now() - start) / 1000);
        acked = true;
        wake?.();
      },
      () => {
        nacks++;
      },
      interval,
    );
    const waitAck = (until: number) =>
      acked
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Math.max(0, until - Date.now()));
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
    const ping = encodePing({ seqNo: seq, node: node.name, ...this.sourceFields() });
    try {
      if (node.state === 'alive') await this.sendPacket(node.ip, node.port, ping, node);
      else {
        const s = encodeSuspect({ incarnation: node.incarnation, node: node.name, from: this.name });
        await this.sendPacket(node.ip, node.port, makeCompound([ping, s]), node);
      }
    } catch (e) {
      this.log.debug({ node: node.name, err: (e as Error).message }, 'failed to send ping');
    }
    this.stats.probes++;
    await waitAck(start + this.timings.probeTimeout);
    if (this.stopped) return;
    if (acked) {
      this.stats.directAcks++;
      this.awareness.applyDelta(-1);
      return;
    }
    // Indirect probes through k random alive peers, plus a TCP ping when the target speaks protocol ≥ 3.
    const helpers = this.randomNodes(
      this.timings.indirectChecks,
      (n) => n.name !== this.name && n.name !== node.name && n.state === 'alive',
    );
    let expectedNacks = 0;
    for (const h of helpers) {
      const nack = (h.vsn[1] ?? 0) >= 4;
      if (nack) expectedNacks++;
      const ind = encodeIndirectPing({
        seqNo: seq,
        target: node.addr,
        port: node.port,
        node: node.name,
        nack,
        ...this.sourceFields(),
      });
      this.sendPacket(h.ip, h.port, ind, h).catch(() => {});
    }
    let tcpOk = false;
    const tcp =
      (node.vsn[1] ?? 0) >= 3
        ? this.tcpPing(node, seq, deadline).then((ok) => {
            tcpOk = ok;
          })
        : Promise.resolve();
    await waitAck(deadline);
    if (this.stopped) return;
    if (acked) {
      this.stats.indirectAcks++;
      return;
    }
    await tcp;
    if (acked) {
      this.stats.indirectAcks++;
      return;
    }
    if (tcpOk) {
      this.stats.tcpFallbackAcks++;
      this.log.warn({ node: node.name }, 'was able to connect to node over TCP but UDP probes failed');
      return;
    }
    this.stats.suspicionsRaised++;
    this.awareness.applyDelta(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
    this.suspectNode({ incarnation: node.incarnation, node: node.name, from: this.name });
  }

  private async tcpPing(node: NodeState, seq: number, deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let sock: Duplex | undefined;
    try {
      sock = await this.transport.dial(node.ip, node.port, left);
      const r = new StreamReader(sock, 64 * 1024, Math.max(1, deadline - Date.now()));
      try {
        await this.writeStream(
          sock,
          encodePing({ seqNo: seq, node: node.name, ...this.sourceFields() }),
          true,
        );
        const { type, r: body } = await readStreamFrame(r, this.opts, false);
        if (type !== MsgType.ack) return false;
        const a = ackFrom(await body.readMsgpack());
        return a.seqNo === seq;
      } finally {
        r.done();
      }
    } catch {
      return false;
    } finally {
      sock?.destroy();
    }
  }

  // ------------------------------------------------------------------ state machine

  private broadcastAbout(node: string, msg: Buffer, onDone?: () => void): void {
    this.broadcasts.queue(msg, `node:${node}`, onDone);
    this.metrics.queueDepth.set(this.broadcasts.length);
  }

  /** Carries out what the state machine decided (state-machine.ts): the only place its effects run. */
  private apply(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'broadcast':
          this.broadcastAbout(e.node, e.msg, e.onDone);
          break;
        case 'event':
          if (e.event === 'join') this.log.debug({ node: e.node.name }, 'node joined');
          this.emit(e.event, e.node);
          if (e.event !== 'change') this.emit('change', e.node);
          break;
        case 'suspicion': {
          const n = this.nodes.get(e.node);
          if (!n) break;
          n.suspicion = new Suspicion(e.from, e.k, e.minMs, e.maxMs, (confirmations) => {
            if (!this.stopped) this.apply(this.sm.suspicionExpired(e.node, e.incarnation, confirmations));
          });
          break;
        }
        case 'refuted':
          this.awareness.applyDelta(1);
          this.metrics.refutations.inc();
          this.log.info({ incarnation: e.incarnation }, 'refuting suspicion about this node');
          break;
        case 'suspected':
          this.metrics.suspicions.inc();
          this.log.info({ node: e.node, from: e.from, incarnation: e.incarnation }, 'node marked as suspect');
          break;
        case 'failed':
          this.log.info(
            { node: e.node, confirmations: e.confirmations },
            'marking node as failed, suspect timeout reached',
          );
          break;
        case 'conflict':
          this.log.warn(
            { node: e.node, ip: e.ip, port: e.port, existing: e.existing },
            'Conflicting address for node',
          );
          break;
        case 'done':
          void e.onDone();
          break;
      }
    }
  }

  aliveNode(a: Alive, bootstrap: boolean): void {
    this.apply(this.sm.aliveNode(a, bootstrap));
  }

  suspectNode(s: Suspect): void {
    this.apply(this.sm.suspectNode(s));
  }

  deadNode(d: Dead, onDone?: () => void): void {
    this.apply(this.sm.deadNode(d, onDone));
  }

  private updateGauges(): void {
    const counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const n of this.nodes.byName.values()) counts[n.state]++;
    for (const [k, v] of Object.entries(counts)) this.metrics.members.set({ state: k }, v);
    this.metrics.queueDepth.set(this.broadcasts.length);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}

export function splitHostPort(addr: string, defaultPort: number): { host: string; port: number } {
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
  if (m6) return { host: m6[1]!, port: m6[2] ? Number(m6[2]) : defaultPort };
  const i = addr.lastIndexOf(':');
  if (i > 0 && addr.indexOf(':') === i) {
    const port = Number(addr.slice(i + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in ${addr}`);
    return { host: addr.slice(0, i), port };
  }
  return { host: addr, port: defaultPort };
}

/** The address to advertise: the bind address, or the first non-loopback IPv4 when bound to any. */
export function defaultAdvertise(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::' && bind !== '') return bind;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return '127.0.0.1';
}
