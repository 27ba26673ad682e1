import { type ChildProcess, spawn } from 'node:child_process';
import pino from 'pino';
import { Registry } from 'prom-client';
import { DiscoveryRunner } from '../../../src/cluster/discovery/runner.js';
import type { DiscoveryContext, DiscoveryMethod } from '../../../src/cluster/discovery/types.js';
import { type DiscoveryConfig, discoverySchema } from '../../../src/config/schema.js';
import { onLines } from '../../support/lines.js';
import { sleep, waitFor } from '../../support/wait.js';

export interface CapturedLog {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A pino logger whose lines are kept in memory for assertions. */
export function captureLogger(name = 'test') {
  const lines: CapturedLog[] = [];
  const logger = pino(
    { level: 'debug', base: { node: name } },
    {
      write(s: string) {
        lines.push(JSON.parse(s));
      },
    },
  );
  const count = (frag: string | RegExp) =>
    lines.filter((l) => (typeof frag === 'string' ? l.msg.includes(frag) : frag.test(l.msg))).length;
  return {
    logger,
    lines,
    count,
    has: (frag: string | RegExp) => count(frag) > 0,
    waitFor: (frag: string | RegExp, timeoutMs = 10_000) =>
      waitFor(() => count(frag) > 0, { timeoutMs, what: `log "${frag}"` }),
  };
}

export function discoveryConfig(over: Record<string, unknown>): DiscoveryConfig {
  return discoverySchema.parse({ enabled: true, ...over });
}

export function makeCtx(
  over: Record<string, unknown>,
  node: { name: string; ip?: string; port: number; key?: Buffer },
) {
  const log = captureLogger(node.name);
  const ctx: DiscoveryContext = {
    config: discoveryConfig(over),
    nodeName: node.name,
    gossipPort: node.port,
    selfAddress: node.ip ?? '127.0.0.1',
    encryptionKey: node.key,
    logger: log.logger,
    registry: new Registry(),
  };
  return { ctx, log };
}

/** A runner whose `join` just records addresses into a member set (no real gossip). */
export function fakeRunner(ctx: DiscoveryContext, method?: DiscoveryMethod) {
  const members = new Set<string>();
  const joins: string[][] = [];
  const runner = new DiscoveryRunner({
    ...ctx,
    method,
    stableMarginMs: 0,
    join: async (addrs) => {
      joins.push(addrs);
      for (const a of addrs) members.add(a);
      return addrs.length;
    },
    isMember: (a) => members.has(a),
  });
  return { runner, members, joins };
}

/** A server process started by the test; stopped by PID. */
export class ServerProcess {
  readonly output: string[] = [];
  /** stdout lines that parsed as JSON (agents log with pino). */
  readonly json: Array<{ msg: string; [k: string]: unknown }> = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly cmd: string,
    readonly args: string[],
  ) {}

  start(): this {
    const child = spawn(this.cmd, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    if (child.stdout)
      onLines(
        child.stdout,
        (line) => this.output.push(line),
        (json) => this.json.push(json as { msg: string }),
      );
    child.stderr?.on('data', (d: Buffer) => this.output.push(d.toString()));
    child.once('error', (err) => this.output.push(`spawn error: ${err.message}`));
    return this;
  }

  count(frag: string | RegExp): number {
    return this.json.filter((l) => (typeof frag === 'string' ? l.msg?.includes(frag) : frag.test(l.msg)))
      .length;
  }

  /** Last `{"msg":"peers"}` line of a udp-agent. */
  peers(): string[] {
    const l = [...this.json].reverse().find((x) => x.msg === 'peers');
    return (l?.peers as string[] | undefined) ?? [];
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    await Promise.race([this.exited, sleep(5000)]);
    if (this.running) {
      this.child!.kill('SIGKILL');
      await this.exited;
    }
  }
}
