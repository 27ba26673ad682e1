/**
 * Cluster-wide rate-limit accuracy: N node processes on loopback (real
 * gossip), offered at --overload × the limit for several windows, in one of
 * three shapes: skewed (70/20/10: node 1 70%, node 2 20%, the rest share 10%),
 * even (every node the same rate) or light (one request stream sent
 * round-robin over the nodes, as a load balancer does, at a low rate).
 * --kind tokens limits tokens instead of requests (each request uses
 * --tokens, given as its estimate). Scenarios: leased (the shared counters),
 * naive (per-node limit/N), kill (node 1 gets SIGKILL in the middle of a window).
 *
 *   npx tsx bench/limits-accuracy/run.ts [--scenario leased|naive|naive-full|kill|all] [--nodes 3]
 *     [--shape skewed|even|light] [--kind requests|tokens] [--limit 200] [--window 5] [--windows 6]
 *
 * Every loop is bounded in count and time; only the processes started here are stopped, by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { freePorts } from '../../test/support/ports.js';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    limit: { type: 'string', default: '200' },
    window: { type: 'string', default: '5' },
    windows: { type: 'string', default: '6' },
    overload: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '3' },
    shape: { type: 'string', default: 'skewed' },
    kind: { type: 'string', default: 'requests' },
    tokens: { type: 'string', default: '10' },
  },
});
const N = Number(args.nodes);
const SHAPE = args.shape as 'skewed' | 'even' | 'light';
const TOKENS = args.kind === 'tokens';
const PER_REQ = TOKENS ? Number(args.tokens) : 1;
const LIMIT = Number(args.limit);
const WINDOW_S = Number(args.window);
const WINDOWS = Number(args.windows);
const OVERLOAD = Number(args.overload);
const WEIGHTS =
  SHAPE === 'even'
    ? Array.from({ length: N }, () => 1 / N)
    : N === 1
      ? [1]
      : N === 2
        ? [0.8, 0.2]
        : [0.7, 0.2, ...Array.from({ length: N - 2 }, () => 0.1 / (N - 2))];
const KEY = 'vk-bench-0123456789';
const NODE_TS = resolve(import.meta.dirname, 'node.ts');

interface BenchNode {
  proc: ChildProcess;
  port: number;
  url: string;
}

/** leased = the shared counters; split = naive limit/3 per node; full = naive full limit per node (as per-replica limiters do). */
type Mode = 'leased' | 'split' | 'full';

async function startCluster(mode: Mode, dir: string): Promise<BenchNode[]> {
  const naive = mode !== 'leased';
  const ports = await freePorts(2 * N);
  const nodes: BenchNode[] = [];
  for (let i = 0; i < N; i++) {
    const config = {
      server: { host: '127.0.0.1', port: ports[i], drain_accept_seconds: 0, drain_timeout_seconds: 1 },
      providers: { mock: { keys: [] } },
      governance: {
        enforce_virtual_keys: true,
        virtual_keys: [
          {
            id: 'bench',
            value: KEY,
            rate_limit: TOKENS
              ? {
                  token_max_limit: mode === 'split' ? Math.floor(LIMIT / N) : LIMIT,
                  token_reset_duration: `${WINDOW_S}s`,
                }
              : {
                  request_max_limit: mode === 'split' ? Math.floor(LIMIT / N) : LIMIT,
                  request_reset_duration: `${WINDOW_S}s`,
                },
          },
        ],
      },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, `n${i}.db`) } },
      cluster_config: {
        enabled: true,
        node_name: `bench-${i + 1}`,
        bind_address: '127.0.0.1',
        peers: ports
          .slice(N)
          .filter((_, j) => j !== i)
          .map((p) => `127.0.0.1:${p}`),
        gossip: { port: ports[N + i], timings: { profile: 'local' } },
      },
    };
    const proc = spawn(process.execPath, ['--import', 'tsx', NODE_TS], {
      env: { ...process.env, BENCH_CONFIG: JSON.stringify(config), BENCH_NAIVE: naive ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('bench node did not start in 30 s')), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('BENCH_NODE_READY')) {
          clearTimeout(t);
          res();
        }
      });
      proc.once('exit', (c) => rej(new Error(`bench node exited with ${c}`)));
    });
    nodes.push({ proc, port: ports[i]!, url: `http://127.0.0.1:${ports[i]}` });
  }
  // All see each other.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const m = await Promise.all(
      nodes.map(
        async (n) => ((await (await fetch(`${n.url}/bench/members`)).json()) as { members: number }).members,
      ),
    );
    if (m.every((x) => x === N)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return nodes;
}

function stopCluster(nodes: BenchNode[]): void {
  for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
}

interface Result {
  admitted: Map<number, number[]>;
  /** Requests offered per window (client clock), all nodes. */
  offeredByWindow: Map<number, number>;
  offered: number[];
  rejected: number;
  errors: number;
}

async function load(nodes: BenchNode[], opts: { killAt?: number }): Promise<Result> {
  const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const windowMs = WINDOW_S * 1000;
  // Start 100 ms after the next window boundary; run WINDOWS full windows.
  const start = Math.ceil(Date.now() / windowMs) * windowMs + windowMs + 100;
  const end = start - 100 + WINDOWS * windowMs;
  const result: Result = {
    admitted: new Map(),
    offeredByWindow: new Map(),
    offered: Array.from({ length: N }, () => 0),
    rejected: 0,
    errors: 0,
  };
  const ratePerNode = WEIGHTS.map((w) => (OVERLOAD * (LIMIT / PER_REQ) * w) / WINDOW_S);
  const maxRequests = Math.ceil(OVERLOAD * (LIMIT / PER_REQ) * (WINDOWS + 1) * 1.1);
  let sent = 0;
  await new Promise((r) => setTimeout(r, start - Date.now()));
  if (opts.killAt !== undefined) {
    setTimeout(() => nodes[0]!.proc.kill('SIGKILL'), start - 100 + opts.killAt - Date.now());
  }
  const inflight = new Set<Promise<void>>();
  const fire = (i: number) => {
    result.offered[i]!++;
    const ows = Math.floor(Date.now() / windowMs) * windowMs;
    // Offered to live nodes only: what a killed node cannot answer is not demand the cluster can serve.
    if (nodes[i]!.proc.exitCode === null && nodes[i]!.proc.signalCode === null)
      result.offeredByWindow.set(ows, (result.offeredByWindow.get(ows) ?? 0) + PER_REQ);
    sent++;
    const p = undiciFetch(`${nodes[i]!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: TOKENS ? `{"model":"mock/m","tokens":${PER_REQ}}` : '{"model":"mock/m"}',
      dispatcher,
      signal: AbortSignal.timeout(5000),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status === 200) {
          const ws = Number(res.headers.get('x-bench-window'));
          const row = result.admitted.get(ws) ?? Array.from({ length: N }, () => 0);
          row[i]! += PER_REQ;
          result.admitted.set(ws, row);
        } else if (res.status === 429) result.rejected++;
        else result.errors++;
      })
      .catch(() => {
        result.errors++;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  // light: one stream, round-robin over the nodes; else one stream per node at its share of the rate.
  const total = ratePerNode.reduce((a, b) => a + b, 0);
  const streams = SHAPE === 'light' ? [total] : ratePerNode;
  const next = streams.map((_, i) => start + ((i * 7) % 50));
  let rr = 0;
  while (Date.now() < end && sent < maxRequests) {
    const now = Date.now();
    for (let i = 0; i < streams.length; i++) {
      while (next[i]! <= now && sent < maxRequests) {
        fire(SHAPE === 'light' ? rr++ % N : i);
        next[i]! += 1000 / streams[i]!;
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all([...inflight]);
  await dispatcher.close();
  return result;
}

function report(name: string, r: Result): { over: number; under: number } {
  const rows = [...r.admitted.entries()].sort((a, b) => a[0] - b[0]);
  let worstOver = 0;
  let worstUnder = 0;
  console.log(
    `\n## ${name}: ${N} nodes, ${TOKENS ? `${PER_REQ} tokens per request, token` : 'request'} limit ${LIMIT} per ${WINDOW_S}s window, offered ${OVERLOAD}x, shape ${SHAPE}`,
  );
  console.log(
    `window start (UTC)        ${N <= 7 ? `${Array.from({ length: N }, (_, i) => `node${i + 1}`.padStart(5)).join('  ')}  ` : ''}total  offered(live)  vs min(limit, offered)`,
  );
  for (const [ws, a] of rows) {
    const total = a.reduce((x, y) => x + y, 0);
    const offered = r.offeredByWindow.get(ws) ?? 0;
    const target = Math.min(LIMIT, offered);
    const pct = ((total - target) / LIMIT) * 100;
    worstOver = Math.max(worstOver, ((total - LIMIT) / LIMIT) * 100);
    worstUnder = Math.min(worstUnder, pct);
    console.log(
      `${new Date(ws).toISOString()}  ${N <= 7 ? `${a.map((x) => String(x).padStart(5)).join('  ')}  ` : ''}${String(total).padStart(5)}  ${String(offered).padStart(13)}  ${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`,
    );
  }
  console.log(`offered per node: ${r.offered.join('/')}, 429s: ${r.rejected}, errors: ${r.errors}`);
  console.log(
    `worst window: over the limit ${Math.max(0, worstOver).toFixed(2)}%, under min(limit, offered) ${(-worstUnder).toFixed(2)}% (of the limit)`,
  );
  return { over: worstOver, under: -worstUnder };
}

async function scenario(name: string, mode: Mode, killAt?: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dis-bench-'));
  const nodes = await startCluster(mode, dir);
  try {
    const r = await load(nodes, { killAt });
    report(name, r);
  } finally {
    stopCluster(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
}

const which = args.scenario;
const hardStop = setTimeout(() => {
  console.error('bench exceeded its time budget');
  process.exit(2);
}, 5 * 60_000);
if (which === 'leased' || which === 'all') await scenario('leased shares (cluster counters)', 'leased');
if (which === 'naive' || which === 'all') await scenario('naive per-node limiter (limit/3 each)', 'split');
if (which === 'naive-full' || which === 'all')
  await scenario('naive per-node limiter (full limit on each node)', 'full');
if (which === 'kill' || which === 'all')
  await scenario('kill -9 of node1 (70% of the load) 20% into window 3', 'leased', 2.2 * WINDOW_S * 1000);
clearTimeout(hardStop);
