import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onLines } from './lines.js';
import { sleep, waitFor } from './wait.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

export interface NodeProcessOptions {
  /** Config object written to a temp file and passed with --config. */
  config: Record<string, unknown>;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  env?: Record<string, string>;
  /** Address the test uses to reach the HTTP port. */
  httpHost?: string;
  args?: string[];
  /** Flags for the node binary itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A real DeepIntShield node process, started from dist/ the way operators run it. */
export class NodeProcess {
  readonly logs: LogLine[] = [];
  readonly rawOutput: string[] = [];
  private child?: ChildProcess;
  private exitPromise?: Promise<number | null>;
  private readonly dir: string;
  readonly configPath: string;

  constructor(readonly opts: NodeProcessOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'dis-node-'));
    this.configPath = join(this.dir, 'config.json');
  }

  get port(): number {
    return ((this.opts.config.server as { port?: number } | undefined)?.port ?? 8080) as number;
  }

  get url(): string {
    return `http://${this.opts.httpHost ?? '127.0.0.1'}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get dataDir(): string {
    return this.dir;
  }

  start(): this {
    const config = structuredClone(this.opts.config);
    // Each process gets its own SQLite file unless the test chose a store.
    config.config_store ??= { enabled: true, type: 'sqlite', config: { path: join(this.dir, 'config.db') } };
    writeFileSync(this.configPath, JSON.stringify(config, null, 2));
    const nodeArgs = [
      ...(this.opts.nodeArgs ?? []),
      MAIN,
      'start',
      '--config',
      this.configPath,
      ...(this.opts.args ?? []),
    ];
    const [cmd, args] = this.opts.netns
      ? ['ip', ['netns', 'exec', this.opts.netns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    this.logs.length = 0;
    const child = spawn(cmd as string, args as string[], {
      env: { ...process.env, ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exitPromise = new Promise((r) => child.once('exit', (code) => r(code)));
    onLines(
      child.stdout!,
      (line) => this.rawOutput.push(line),
      (json) => this.logs.push(json as LogLine),
    );
    child.stderr!.on('data', (d: Buffer) => this.rawOutput.push(`[stderr] ${d.toString()}`));
    return this;
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
          throw new Error(`node exited with ${this.child.exitCode}: ${this.rawOutput.slice(-20).join('\n')}`);
        const res = await fetch(`${this.url}/ready`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      { timeoutMs, what: `${this.url}/ready` },
    ).catch((err) => {
      throw new Error(`${err.message}\n--- output ---\n${this.rawOutput.slice(-30).join('\n')}`);
    });
  }

  async status(): Promise<ClusterStatus> {
    const res = await fetch(`${this.url}/cluster/status`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as ClusterStatus;
  }

  /**
   * Seen so far. A node's stdout is asynchronous and the pipe adds its own delay, so a line about
   * something that just happened is awaited with waitForLog, not checked with this.
   */
  hasLog(fragment: string | RegExp): boolean {
    return this.logs.some((l) =>
      typeof fragment === 'string' ? l.msg?.includes(fragment) : fragment.test(l.msg),
    );
  }

  async waitForLog(fragment: string | RegExp, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(
      () =>
        this.logs.find((l) =>
          typeof fragment === 'string' ? l.msg?.includes(fragment) : fragment.test(l.msg),
        ),
      { timeoutMs, what: `log "${fragment}"` },
    );
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitExit(timeoutMs = 40_000): Promise<number | null> {
    if (!this.exitPromise) return null;
    return Promise.race([
      this.exitPromise,
      sleep(timeoutMs).then(() => {
        throw new Error('node did not exit in time');
      }),
    ]);
  }

  /** Stops the process (SIGKILL after a grace period) and removes its temp dir. Safe to call twice. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.running) {
      this.child!.kill('SIGTERM');
      await Promise.race([this.exitPromise, sleep(graceMs)]);
      if (this.running) this.child!.kill('SIGKILL');
      await this.exitPromise;
    }
  }

  async destroy(): Promise<void> {
    await this.stop(2000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ClusterStatus {
  local_node: string;
  members: number;
  healthy_members: number;
  cluster_health: 'HEALTHY' | 'NOT HEALTHY';
  nodes: Array<{
    name: string;
    address: string;
    http_address: string;
    state: 'alive' | 'suspect' | 'dead' | 'left';
    healthy: boolean;
    incarnation: number;
    traffic?: { rps: number; in_flight: number };
  }>;
}

/** A log line's timestamp in epoch ms (the node writes ISO time strings). */
export function logTimeMs(l: LogLine): number {
  return typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
}
