import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestNetwork } from '../support/netns.js';
import { renderNginxConf } from '../support/nginx.js';
import { type ClusterStatus, NodeProcess } from '../support/node-process.js';
import { requireBinary } from '../support/system.js';
import { sleep, waitFor } from '../support/wait.js';

const REPO = resolve(import.meta.dirname, '../..');
export const HTTP_PORT = 8080;
export const GOSSIP_PORT = 10101;
const LB_PORT = 8088;

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  streams: number;
  brokenStreams: number;
  durationMs: number;
  timeline: { t: number; sent: number; failed: number }[];
}

export interface ChaosOptions {
  nodes: number;
  /** Third octet of 10.77.X.0/24; unique per test file so files can run side by side. */
  subnet: number;
  extraConfig?: (i: number) => Record<string, unknown>;
  mockLatencyMs?: number;
  /** Runs after the network exists (root leg at <prefix>.1) and before the nodes start. */
  beforeNodes?: (rootIp: string) => Promise<void>;
}

/**
 * N real node processes, each in its own network namespace on one bridge,
 * the repo's nginx.conf in front (in a namespace of its own, with the load
 * generator beside it), and a root leg so the test can watch every node.
 */
export class ChaosCluster {
  readonly net: TestNetwork;
  readonly nodes: NodeProcess[] = [];
  private nginx?: ChildProcess;
  private readonly tmp = mkdtempSync(join(tmpdir(), 'dis-chaos-'));
  /** Every state each observer saw for each node, over time. */
  readonly seenStates = new Map<string, Set<string>>();
  private watching = false;
  private watcher?: Promise<void>;

  constructor(readonly opts: ChaosOptions) {
    requireBinary('nginx');
    requireBinary('tc');
    this.net = new TestNetwork(opts.subnet);
  }

  get lb() {
    return this.net.hosts[this.opts.nodes]!;
  }

  nodeConfig(i: number): Record<string, unknown> {
    const host = this.net.hosts[i]!;
    const peers = this.net.hosts
      .slice(0, this.opts.nodes)
      .filter((h) => h !== host)
      .map((h) => `${h.ip}:${GOSSIP_PORT}`);
    return {
      server: { host: '0.0.0.0', port: HTTP_PORT, drain_timeout_seconds: 20, drain_accept_seconds: 3 },
      providers: {
        mock: {
          keys: [{ name: 'k1', value: 'mock-key-1' }],
          mock_config: { latency_ms: this.opts.mockLatencyMs ?? 5, chunks: 5, chunk_interval_ms: 20 },
        },
      },
      cluster_config: {
        enabled: true,
        node_name: `chaos-${i + 1}`,
        bind_address: host.ip,
        peers,
        gossip: {
          port: GOSSIP_PORT,
          config: { timeout_seconds: 1, interval_seconds: 0.5, success_threshold: 2, failure_threshold: 2 },
        },
      },
      ...(this.opts.extraConfig?.(i) ?? {}),
    };
  }

  async start(): Promise<void> {
    this.net.create(this.opts.nodes + 1);
    const rootIp = this.net.attachRoot();
    await this.opts.beforeNodes?.(rootIp);
    for (let i = 0; i < this.opts.nodes; i++) {
      this.nodes.push(
        new NodeProcess({
          config: this.nodeConfig(i),
          netns: this.net.hosts[i]!.ns,
          httpHost: this.net.hosts[i]!.ip,
        }).start(),
      );
    }
    await Promise.all(this.nodes.map((n) => n.waitReady(30_000)));
    await this.waitHealthy(this.opts.nodes);
    this.startNginx();
    await waitFor(async () => (await fetch(`http://${this.lb.ip}:${LB_PORT}/health`)).ok, {
      timeoutMs: 10_000,
      what: 'nginx',
    });
    this.watch();
  }

  /** The repo's nginx.conf with its upstream servers and listen port pointed at this network. */
  private startNginx(): void {
    const conf = renderNginxConf(
      readFileSync(join(REPO, 'deploy/compose/nginx.conf'), 'utf8'),
      this.nodes.map((_, i) => `${this.net.hosts[i]!.ip}:${HTTP_PORT}`),
      LB_PORT,
      this.tmp,
    );
    writeFileSync(join(this.tmp, 'nginx.conf'), conf);
    this.nginx = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.lb.ns,
        'nginx',
        '-p',
        this.tmp,
        '-c',
        join(this.tmp, 'nginx.conf'),
        '-g',
        `daemon off; pid ${this.tmp}/nginx.pid;`,
      ],
      {
        stdio: 'ignore',
      },
    );
  }

  /** Cuts gossip and HTTP between two groups of nodes (1-based host numbers); nginx and the root leg still reach all. */
  partition(a: number[], b: number[]): void {
    this.routes(a, b, 'add');
  }

  heal(a: number[], b: number[]): void {
    this.routes(a, b, 'del');
  }

  private routes(a: number[], b: number[], op: 'add' | 'del'): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const)
      for (const i of from)
        for (const j of to) {
          try {
            execFileSync(
              'ip',
              ['-n', this.net.hosts[i - 1]!.ns, 'route', op, 'blackhole', `${this.net.hosts[j - 1]!.ip}/32`],
              { stdio: 'ignore' },
            );
          } catch (err) {
            if (op === 'add') throw err;
          }
        }
  }

  async restartNode(i: number): Promise<void> {
    const old = this.nodes[i]!;
    this.nodes[i] = new NodeProcess({
      config: this.nodeConfig(i),
      netns: this.net.hosts[i]!.ns,
      httpHost: this.net.hosts[i]!.ip,
    }).start();
    await this.nodes[i]!.waitReady(30_000);
    void old;
  }

  async waitHealthy(
    expected: number,
    on: NodeProcess[] = this.nodes.filter((n) => n.running),
    timeoutMs = 30_000,
  ): Promise<void> {
    await waitFor(
      async () => {
        const all = await Promise.all(on.map((n) => n.status()));
        return all.every(
          (s) => s.cluster_health === 'HEALTHY' && s.members === expected && s.healthy_members === expected,
        );
      },
      { timeoutMs, intervalMs: 250, what: `${expected} healthy members on every live node` },
    );
  }

  /** Runs the bounded load generator inside the load balancer's namespace. */
  load(opts: {
    rate: number;
    durationSeconds: number;
    streamShare?: number;
    vk?: string;
  }): Promise<LoadResult> {
    return new Promise((resolvePromise, reject) => {
      const args = [
        'netns',
        'exec',
        this.lb.ns,
        process.execPath,
        join(REPO, 'test/support/loadgen.mjs'),
        '--url',
        `http://127.0.0.1:${LB_PORT}`,
        '--rate',
        String(opts.rate),
        '--duration',
        String(opts.durationSeconds),
        '--stream-share',
        String(opts.streamShare ?? 0.3),
        '--max-requests',
        String(opts.rate * opts.durationSeconds),
        ...(opts.vk ? ['--vk', opts.vk] : []),
      ];
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => {
        out += d;
      });
      child.stderr!.on('data', (d) => {
        err += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), (opts.durationSeconds + 45) * 1000);
      child.once('exit', () => {
        clearTimeout(timer);
        try {
          resolvePromise(JSON.parse(out.trim().split('\n').pop()!));
        } catch {
          reject(new Error(`load generator failed: ${err || out}`));
        }
      });
    });
  }

  private watch(): void {
    this.watching = true;
    this.watcher = (async () => {
      while (this.watching) {
        await Promise.all(
          this.nodes
            .filter((n) => n.running)
            .map(async (n) => {
              try {
                const s: ClusterStatus = await n.status();
                for (const node of s.nodes) {
                  const set = this.seenStates.get(node.name) ?? new Set<string>();
                  set.add(node.state);
                  this.seenStates.set(node.name, set);
                }
              } catch {
                /* node restarting */
              }
            }),
        );
        await sleep(200);
      }
    })();
  }

  async destroy(): Promise<void> {
    this.watching = false;
    await this.watcher;
    await Promise.all(this.nodes.map((n) => n.destroy()));
    if (this.nginx?.pid && this.nginx.exitCode === null) await stopNginx(this.nginx);
    this.net.destroy();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/**
 * Stops nginx by PID: SIGTERM to the master, which stops its workers; if it
 * does not exit within 5 s, SIGKILL the master and its workers (known from
 * /proc before the signal), so no worker outlives a test.
 */
async function stopNginx(master: ChildProcess): Promise<void> {
  const pid = master.pid!;
  const workers = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  const exited = new Promise((r) => master.once('exit', r));
  master.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  for (const w of [pid, ...workers]) {
    try {
      // only if the PID still belongs to an nginx process (never a reused PID)
      if (!readFileSync(`/proc/${w}/cmdline`, 'utf8').startsWith('nginx')) continue;
      process.kill(w, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
