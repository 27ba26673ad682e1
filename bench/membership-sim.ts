/**
 * Gossip membership simulation in virtual time: N real Memberlist instances (the production code) on an
 * in-memory network with latency and packet loss, driven by a virtual clock (timers and Date.now are
 * replaced in this process). Measures convergence after joins, failure-detection time of crashed nodes,
 * false positives under loss, and traffic per node.
 *
 *   npx tsx bench/membership-sim.ts [N=200] [loss=0.0] [kill=3] [profile=lan] [start=gossip|seeded]
 *
 * start=gossip: nodes join one every 10 ms through the real join (push/pull with a random earlier
 * node) and learn each other by gossip: the mass-join storm, N² alive deliveries.
 * start=seeded: every table is filled in place through the same state-merge code (aliveNode) before
 * the clock starts, so large clusters (5000) skip the storm and go straight to the measurements.
 * Then, in both: 10 s steady state (traffic per node), one new node joins (rounds until all know it),
 * KILL nodes crash (rounds until all declare them dead), false positives under the given loss.
 *
 * Memory grows with N² (every node holds the full table): N=1000 peaks near 1.7 GB RSS, N=5000 seeded
 * needs a heap of ~10 GB. Give V8 a larger young generation too: with the default one, short-lived
 * packets get promoted and the old-generation collector over the huge tables took 55% of the time;
 *   NODE_OPTIONS="--max-old-space-size=20000 --max-semi-space-size=128"
 * ran N=5000 3.3× faster. No real socket is opened.
 */
import { Duplex } from 'node:stream';
import pino from 'pino';
import { MinHeap } from '../src/cluster/membership/heap.js';
import { Memberlist } from '../src/cluster/membership/memberlist.js';
import { encodeTags } from '../src/cluster/membership/serf.js';
import { ipToBytes } from '../src/cluster/membership/state.js';
import { PROFILES, retransmitLimit, type TimingProfile } from '../src/cluster/membership/timings.js';
import type { PacketTransport, TransportOptions } from '../src/cluster/membership/transport.js';

const N = Number(process.argv[2] ?? 200);
const LOSS = Number(process.argv[3] ?? 0);
const KILL = Number(process.argv[4] ?? 3);
const PROFILE = (process.argv[5] ?? 'lan') as TimingProfile;
const START = (process.argv[6] ?? 'gossip') as 'gossip' | 'seeded';

// ------------------------------------------------------------------ virtual clock

interface VTimer {
  at: number;
  seq: number;
  cb: () => void;
  interval: number;
  cancelled: boolean;
  unref(): VTimer;
  ref(): VTimer;
  hasRef(): boolean;
  refresh(): VTimer;
  [Symbol.toPrimitive](): number;
}

const realSetImmediate = globalThis.setImmediate;
const realNow = Date.now;
let now = 1_800_000_000_000;
let seq = 0;
const timers = new MinHeap<VTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
function schedule(cb: () => void, ms: number, interval: number): VTimer {
  const t: VTimer = {
    at: now + Math.max(0, Number(ms) || 0),
    seq: seq++,
    cb,
    interval,
    cancelled: false,
    unref: () => t,
    ref: () => t,
    hasRef: () => true,
    refresh: () => t,
    [Symbol.toPrimitive]: () => t.seq,
  };
  timers.push(t);
  return t;
}
const g = globalThis as unknown as Record<string, unknown>;
g.setTimeout = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
  schedule(() => cb(...args), ms ?? 0, 0);
g.setInterval = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
  schedule(() => cb(...args), ms ?? 0, Math.max(1, ms ?? 1));
g.clearTimeout = (t?: VTimer) => {
  if (t && typeof t === 'object') t.cancelled = true;
};
g.clearInterval = g.clearTimeout;
Date.now = () => now;

const drain = () => new Promise<void>((r) => realSetImmediate(r));
async function runFor(ms: number): Promise<void> {
  const end = now + ms;
  while (timers.size > 0 && timers.peek()!.at <= end) {
    const t = timers.pop()!;
    if (t.cancelled) continue;
    now = t.at;
    if (t.interval > 0) {
      t.at += t.interval;
      t.seq = seq++;
      timers.push(t);
    }
    t.cb();
    await drain();
  }
  now = end;
}

// ------------------------------------------------------------------ in-memory network

const stats = { packets: 0, bytes: 0, udpBytes: 0, dropped: 0, streams: 0 };
const endpoints = new Map<string, SimTransport>();
const latency = () => 0.2 + Math.random() * 0.8;

class End extends Duplex {
  peer!: End;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    stats.bytes += chunk.length;
    this.peer.push(chunk);
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.peer.readableEnded) this.peer.push(null);
    cb(err);
  }
}

class SimTransport implements PacketTransport {
  port: number;
  up = false;
  constructor(private readonly o: TransportOptions) {
    this.port = o.port;
  }
  get key(): string {
    return `${this.o.bindAddress}:${this.port}`;
  }
  async start(): Promise<void> {
    this.up = true;
    endpoints.set(this.key, this);
  }
  async sendUdp(buf: Buffer, ip: string, port: number): Promise<void> {
    stats.packets++;
    stats.bytes += buf.length;
    stats.udpBytes += buf.length;
    const dst = endpoints.get(`${ip}:${port}`);
    if (!dst?.up || Math.random() < LOSS) {
      stats.dropped++;
      return;
    }
    const from = { address: this.o.bindAddress, port: this.port };
    const copy = Buffer.from(buf);
    setTimeout(() => dst.up && dst.o.onPacket(copy, from), latency());
  }
  dial(ip: string, port: number): Promise<Duplex> {
    stats.streams++;
    const dst = endpoints.get(`${ip}:${port}`);
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if (!dst?.up) return reject(new Error('connection refused'));
        const a = new End();
        const b = new End();
        a.peer = b;
        b.peer = a;
        dst.o.onStream(b);
        resolve(a);
      }, latency());
    });
  }
  async close(): Promise<void> {
    this.up = false;
    endpoints.delete(this.key);
  }
}

// ------------------------------------------------------------------ scenario

const t0 = realNow();
const logger = pino({ level: 'silent' });
const timings = PROFILES[PROFILE];
const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const nodes: Memberlist[] = [];
for (let i = 0; i < N; i++) {
  const m = new Memberlist({
    name: `sim-${i}`,
    bindAddress: ip(i + 1),
    bindPort: 7946,
    timings,
    meta: encodeTags({}),
    logger,
    transport: (o) => new SimTransport(o),
  });
  await m.start();
  nodes.push(m);
}
const joinStart = now;
let allJoined = now;
let converged = Number.NaN;
let converged99 = Number.NaN;
if (START === 'seeded') {
  const alives = nodes.map((m) => {
    const self = m.member(m.name)!;
    return {
      incarnation: self.incarnation,
      node: m.name,
      addr: ipToBytes(m.address.ip),
      port: m.address.port,
      meta: self.meta,
      vsn: Buffer.from(self.vsn),
    };
  });
  for (const m of nodes) {
    for (const a of alives) if (a.node !== m.name) m.aliveNode(a, false);
    m.broadcasts.reset(); // everyone already knows: nothing to gossip
  }
  allJoined = now;
  converged = 0;
  converged99 = 0;
} else {
  // Joins: each node joins a random earlier one, one every 10 ms of virtual time.
  for (let i = 1; i < N; i++) {
    const target = nodes[Math.floor(Math.random() * i)]!;
    void nodes[i]!.join([`${target.address.ip}:7946`]);
    await runFor(10);
  }
  allJoined = now;
  for (let step = 0; step < 1200; step++) {
    const behind = nodes.filter((m) => m.numAlive() < N).length;
    if (Number.isNaN(converged99) && behind <= N * 0.01) converged99 = now - allJoined;
    if (process.env.SIM_DEBUG)
      console.error(
        now - allJoined,
        Math.min(...nodes.map((m) => m.numAlive())),
        nodes.filter((m) => m.numAlive() < N).length,
        nodes.reduce((a, m) => a + m.broadcasts.length, 0),
      );
    if (nodes.every((m) => m.numAlive() === N)) {
      converged = now - allJoined;
      break;
    }
    await runFor(250);
  }
}
const suspicionsBefore = nodes.map((m) => m.stats.suspicionsRaised).reduce((a, b) => a + b, 0);
const baseline = { ...stats, t: now };
// Steady state for 10 s: traffic per node.
await runFor(10_000);
const perNodePps = (stats.packets - baseline.packets) / N / 10;
const perNodeBps = (stats.bytes - baseline.bytes) / N / 10;
const perNodeUdpBps = (stats.udpBytes - baseline.udpBytes) / N / 10;

// One more node joins a random member: gossip rounds until every node knows it.
const newcomer = new Memberlist({
  name: `sim-${N}`,
  bindAddress: ip(N + 1),
  bindPort: 7946,
  timings,
  meta: encodeTags({}),
  logger,
  transport: (o) => new SimTransport(o),
});
await newcomer.start();
const joinedAt = now;
void newcomer.join([`${nodes[Math.floor(Math.random() * N)]!.address.ip}:7946`]);
let singleJoin = Number.NaN;
for (let step = 0; step < 600; step++) {
  await runFor(50);
  if (nodes.every((m) => m.member(newcomer.name)?.state === 'alive')) {
    singleJoin = now - joinedAt;
    break;
  }
}
nodes.push(newcomer);

// Crash KILL random nodes at once.
const victims = new Set<number>();
while (victims.size < Math.min(KILL, N - 2)) victims.add(1 + Math.floor(Math.random() * (N - 1)));
const killedAt = now;
for (const v of victims) await nodes[v]!.shutdown();
const survivors = nodes.filter((_, i) => !victims.has(i));
const victimNames = [...victims].map((v) => `sim-${v}`);
let firstDetect = Number.NaN;
let allDetect = Number.NaN;
for (let step = 0; step < 1200; step++) {
  await runFor(100);
  const seen = survivors.filter((m) => victimNames.every((v) => m.member(v)?.state === 'dead')).length;
  if (seen > 0 && Number.isNaN(firstDetect)) firstDetect = now - killedAt;
  if (seen === survivors.length) {
    allDetect = now - killedAt;
    break;
  }
}
// False positives: live nodes anyone marked dead.
const liveNames = new Set(survivors.map((m) => m.name));
let wronglyDead = 0;
for (const m of survivors)
  for (const x of m.members()) if (liveNames.has(x.name) && x.state === 'dead') wronglyDead++;
const suspicionsAfter = survivors.map((m) => m.stats.suspicionsRaised).reduce((a, b) => a + b, 0);

// In gossip rounds (one gossip interval each), against memberlist's retransmit bound: a broadcast is
// sent RetransmitMult × ceil(log10(N+1)) times by each node that has it, so it should have reached
// everyone within about that many rounds (O(log N)).
const round = timings.gossipInterval;
const bound = retransmitLimit(timings.retransmitMult, N + 1);
const disseminationRounds = (allDetect - firstDetect) / round;
console.log(
  JSON.stringify(
    {
      nodes: N,
      loss: LOSS,
      profile: PROFILE,
      killed: victims.size,
      join_phase_virtual_s: (allJoined - joinStart) / 1000,
      convergence_99pct_after_last_join_s: converged99 / 1000,
      convergence_after_last_join_s: converged / 1000,
      steady_packets_per_node_per_s: Number(perNodePps.toFixed(2)),
      steady_bytes_per_node_per_s: Math.round(perNodeBps),
      steady_udp_bytes_per_node_per_s: Math.round(perNodeUdpBps),
      failure_first_detected_s: firstDetect / 1000,
      failure_detected_by_all_s: allDetect / 1000,
      suspicions_raised_total: suspicionsAfter - suspicionsBefore,
      live_nodes_wrongly_dead_entries: wronglyDead,
      udp_dropped_total: stats.dropped,
      gossip_round_ms: round,
      retransmit_bound_rounds: bound,
      start: START,
      mass_join_convergence_rounds: Number((converged / round).toFixed(1)),
      single_join_known_by_all_s: singleJoin / 1000,
      single_join_rounds: Number((singleJoin / round).toFixed(1)),
      single_join_vs_bound: Number((singleJoin / round / bound).toFixed(2)),
      dead_dissemination_rounds: Number(disseminationRounds.toFixed(1)),
      dead_dissemination_vs_bound: Number((disseminationRounds / bound).toFixed(2)),
      heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1e6),
      rss_mb: Math.round(process.memoryUsage().rss / 1e6),
      wall_s: (realNow() - t0) / 1000,
    },
    null,
    1,
  ),
);
for (const m of nodes) await m.shutdown();
process.exit(0);
