/**
 * Traffic intelligence vs the static-weight baseline, in one run, over real
 * gossip: two 3-node clusters of in-process Cluster + TrafficService members
 * on loopback, one routing adaptively, the other by static weights (what the
 * gateway did before: weighted random, a different key on retry). Both get
 * the same open-loop load (15 req/s round-robin over the nodes, attempt loop
 * with max_retries 2) against the same simulated upstream, at the same time.
 *
 *   npx tsx bench/traffic-adaptive.ts
 *
 * Scenario 1, failing key: key b answers 500 for 6 s, then times out (1 s)
 * until 20 s, then recovers; prints b's share of upstream calls per second,
 * the time until every node has b's circuit open, the time to b's first
 * success after recovery and until it takes >= 25% again.
 * Scenario 2, quota: keys weighted 9:1, each allowed 100 requests per 10 s
 * by the upstream (fixed windows, OpenAI x-ratelimit-* headers): upstream
 * 429 share with pacing vs without.
 */
import pino from 'pino';
import { Cluster } from '../src/cluster/cluster.js';
import { PROFILES } from '../src/cluster/membership/timings.js';
import { TrafficService } from '../src/cluster/traffic/service.js';
import { clusterSchema } from '../src/config/schema.js';
import type { KeyCandidate, KeyRouter } from '../src/gateway/hooks.js';
import { freePorts } from '../test/support/ports.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class StaticRouter implements KeyRouter {
  choose(_p: string, _m: string, c: readonly KeyCandidate[], avoid: ReadonlySet<string> | undefined): number {
    const idx = c.map((_, i) => i).filter((i) => !avoid?.has(c[i]!.name));
    if (idx.length === 0) return -1;
    let r = Math.random() * idx.reduce((s, i) => s + c[i]!.weight, 0);
    for (const i of idx) {
      r -= c[i]!.weight;
      if (r < 0) return i;
    }
    return idx[idx.length - 1]!;
  }
  record(): void {}
}

interface Group {
  name: string;
  clusters: Cluster[];
  traffic: TrafficService[];
  routers: KeyRouter[];
  calls: { at: number; key: string; status: number }[];
  clientFailures: number;
}

async function group(name: string, adaptive: boolean): Promise<Group> {
  const ports = await freePorts(6);
  const g: Group = { name, clusters: [], traffic: [], routers: [], calls: [], clientFailures: 0 };
  for (let i = 0; i < 3; i++) {
    const cluster = new Cluster({
      config: clusterSchema.parse({
        enabled: true,
        node_name: `${name}-${i}`,
        bind_address: '127.0.0.1',
        peers: i === 0 ? [] : [`127.0.0.1:${ports[0]}`],
        gossip: { port: ports[i] },
      }),
      httpAddress: `127.0.0.1:${ports[3 + i]}`,
      version: 'bench',
      logger: pino({ level: 'silent' }),
      timings: PROFILES.lan,
      healthCheck: async () => true,
    });
    const traffic = new TrafficService({ mode: 'adaptive', inFlight: () => 0, rps: () => 0 });
    traffic.attachCluster(cluster);
    await cluster.start();
    traffic.start();
    g.clusters.push(cluster);
    g.traffic.push(traffic);
    g.routers.push(adaptive ? traffic.router : new StaticRouter());
  }
  while (!g.clusters.every((c) => c.members().filter((m) => m.state === 'alive').length === 3))
    await sleep(100);
  return g;
}

type Upstream = (key: string) => {
  status: number;
  latencyMs: number;
  failure?: 'timeout';
  headers?: Record<string, string>;
};

async function drive(groups: Group[], keys: KeyCandidate[], upstream: Upstream, ms: number, rps: number) {
  const t0 = Date.now();
  const pending: Promise<void>[] = [];
  const total = Math.floor((ms * rps) / 1000);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rps;
    if (due > Date.now()) await sleep(due - Date.now());
    for (const g of groups) pending.push(request(g, i % 3, keys, upstream));
  }
  await Promise.all(pending);
  return t0;
}

async function request(g: Group, node: number, keys: KeyCandidate[], upstream: Upstream): Promise<void> {
  const router = g.routers[node]!;
  const avoid = new Set<string>();
  for (let attempt = 0; attempt <= 2; attempt++) {
    const i = router.choose('p', 'm', keys, avoid);
    if (i < 0) break;
    const key = keys[i]!.name;
    const a = upstream(key);
    await sleep(a.latencyMs);
    g.calls.push({ at: Date.now(), key, status: a.status });
    router.record({
      provider: 'p',
      keyName: key,
      model: 'm',
      status: a.status,
      failure: a.failure,
      latencyMs: a.latencyMs,
      quotaHeaders: a.headers,
    });
    if (a.status === 200) return;
    avoid.add(key);
  }
  g.clientFailures++;
}

function perSecond(g: Group, key: string, t0: number, seconds: number): string[] {
  const out: string[] = [];
  for (let s = 0; s < seconds; s++) {
    const c = g.calls.filter((x) => x.at >= t0 + s * 1000 && x.at < t0 + (s + 1) * 1000);
    out.push(c.length ? `${Math.round((c.filter((x) => x.key === key).length / c.length) * 100)}` : '-');
  }
  return out;
}

async function failingKey(): Promise<void> {
  const groups = [await group('adaptive', true), await group('static', false)];
  const keys = [
    { name: 'a', weight: 1 },
    { name: 'b', weight: 1 },
  ];
  let phase: 'error' | 'timeout' | 'ok' = 'error';
  const upstream: Upstream = (key) => {
    if (key === 'a' || phase === 'ok') return { status: 200, latencyMs: 40 };
    return phase === 'error'
      ? { status: 500, latencyMs: 20 }
      : { status: 0, failure: 'timeout', latencyMs: 1000 };
  };
  const t0 = Date.now();
  let allOpenAt = 0;
  const watch = setInterval(() => {
    const ad = groups[0]!;
    if (!allOpenAt && ad.traffic.every((t) => t.circuits.state('p', 'b', 'm') !== 'closed'))
      allOpenAt = Date.now();
  }, 20);
  setTimeout(() => (phase = 'timeout'), 6000);
  setTimeout(() => (phase = 'ok'), 20_000);
  await drive(groups, keys, upstream, 32_000, 15);
  clearInterval(watch);
  const recoveredAt = t0 + 20_000;
  for (const g of groups) {
    const firstOk = g.calls.find((c) => c.key === 'b' && c.status === 200 && c.at >= recoveredAt);
    const shares = perSecond(g, 'b', t0, 32);
    const backSecond = shares.findIndex((v, s) => s >= 20 && v !== '-' && Number(v) >= 25);
    const after5 = g.calls.filter((c) => c.at >= t0 + 5000 && c.at < recoveredAt);
    console.log(`failing-key ${g.name}: share of b per second (%): ${shares.join(' ')}`);
    console.log(
      `failing-key ${g.name}: b share 5-20 s ${((after5.filter((c) => c.key === 'b').length / after5.length) * 100).toFixed(2)}% of ${after5.length} calls; client failures ${g.clientFailures}; first b success ${firstOk ? firstOk.at - recoveredAt : '-'} ms after recovery; b >= 25% again in second ${backSecond >= 0 ? backSecond - 20 : '-'} after recovery`,
    );
  }
  console.log(
    `failing-key adaptive: circuit open on all 3 nodes ${allOpenAt ? allOpenAt - t0 : '-'} ms after the failure began`,
  );
  await shutdown(groups);
}

async function quota(): Promise<void> {
  const groups = [await group('paced', true), await group('static', false)];
  const keys = [
    { name: 'a', weight: 9 },
    { name: 'b', weight: 1 },
  ];
  const used = new Map<string, { w: number; n: number }>();
  const upstream: Upstream = (key) => {
    const now = Date.now();
    const w = Math.floor(now / 10_000);
    let u = used.get(key);
    if (!u || u.w !== w) {
      u = { w, n: 0 };
      used.set(key, u);
    }
    const headers = {
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': String(Math.max(0, 99 - u.n)),
      'x-ratelimit-reset-requests': `${(((w + 1) * 10_000 - now) / 1000).toFixed(3)}s`,
    };
    if (u.n >= 100)
      return {
        status: 429,
        latencyMs: 5,
        headers: { ...headers, 'retry-after': String(Math.ceil(((w + 1) * 10_000 - now) / 1000)) },
      };
    u.n++;
    return { status: 200, latencyMs: 30, headers };
  };
  // The two groups must not share one quota: run them one after the other on fresh counters.
  for (const g of groups) {
    used.clear();
    const t0 = await drive([g], keys, upstream, 30_000, 15);
    const calls = g.calls.filter((c) => c.at >= t0);
    const n429 = calls.filter((c) => c.status === 429).length;
    console.log(
      `quota ${g.name}: ${n429} upstream 429s of ${calls.length} calls (${((n429 / calls.length) * 100).toFixed(2)}%), client failures ${g.clientFailures}`,
    );
  }
  await shutdown(groups);
}

async function shutdown(groups: Group[]): Promise<void> {
  for (const g of groups) {
    for (const t of g.traffic) t.stop();
    await Promise.all(g.clusters.map((c) => c.shutdown()));
  }
}

await failingKey();
await quota();
process.exit(0);
