import type { Logger } from '../observability/logger.js';

const FORGET_AFTER_MS = 15 * 60_000;

export interface ReconnectOptions {
  seeds: readonly string[];
  /** Gossip addresses of members alive or suspect now. */
  liveAddresses: () => Set<string>;
  join: (addresses: string[]) => Promise<{ contacted: number }>;
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

/**
 * Like serf's reconnect: every interval, try a push-pull join to one failed
 * peer, and to the static seeds when none of them is a live member. After a
 * partition heals, this merges the two sides even once gossip to the dead
 * has given up. Failed peers are forgotten after 15 minutes.
 */
export class ReconnectLoop {
  /** Peers that failed (not left), remembered after memberlist drops them. */
  private readonly failed = new Map<string, { address: string; since: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: ReconnectOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** A member changed state: remember it when it failed, forget it when it is back or left. */
  observe(name: string, state: string, address: string): void {
    if (state === 'dead') this.failed.set(name, { address, since: this.now() });
    else this.failed.delete(name);
  }

  start(everyMs: number, active: () => boolean): void {
    this.timer = setInterval(() => {
      if (active()) void this.tick();
    }, everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    const now = this.now();
    for (const [name, p] of this.failed) if (now - p.since > FORGET_AFTER_MS) this.failed.delete(name);
    const live = this.opts.liveAddresses();
    const failed = [...this.failed.values()].map((p) => p.address).filter((a) => !live.has(a));
    const seeds = this.opts.seeds.filter((p) => !live.has(p));
    const targets: string[] = [];
    if (failed.length > 0) targets.push(failed[Math.floor(this.random() * failed.length)]!);
    if (seeds.length > 0 && seeds.length === this.opts.seeds.length) targets.push(...seeds);
    if (targets.length === 0) return;
    const { contacted } = await this.opts.join([...new Set(targets)]).catch(() => ({ contacted: 0 }));
    if (contacted > 0) this.opts.logger.info({ peers: targets }, 'reconnected to failed peers');
  }
}
