import { parseFixedDuration } from '../../config/duration.js';
import { AddressFilter, formatHostPort } from './address.js';
import { createDiscoveryMethod } from './factory.js';
import { type DiscoveryMetrics, discoveryMetrics } from './metrics.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { errText, sleep, withTimeout } from './util.js';

export { createDiscoveryMethod } from './factory.js';

export interface DiscoveryRunnerOptions extends DiscoveryContext {
  /** Joins the given gossip addresses (in order); resolves to how many answered. */
  join: (addrs: string[]) => Promise<number>;
  /** True when the address is already a live member. */
  isMember: (addr: string) => boolean;
  /** Test seam: a ready-made method instead of the factory's. */
  method?: DiscoveryMethod;
  /** Wait before the first join so peers starting at the same moment show up too (default 500 ms). */
  stableMarginMs?: number;
}

const MIN_BACKOFF_MS = 500;

/**
 * Runs discovery rounds (start-up, every `interval`, on watch events), filters
 * the results and joins what is not a member yet. Backend failures are logged
 * and retried with backoff; they never touch existing membership.
 */
export class DiscoveryRunner {
  readonly method: DiscoveryMethod;
  private readonly filter: AddressFilter;
  private readonly metrics: DiscoveryMetrics;
  private readonly intervalMs: number;
  private readonly dialTimeoutMs: number;
  private readonly stableMarginMs: number;
  private timer?: NodeJS.Timeout;
  private eventTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private started = false;
  private methodStarted = false;
  private failures = 0;
  private peers: string[] = [];
  private inflight?: AbortController;
  private lastLogged = '';

  constructor(private readonly opts: DiscoveryRunnerOptions) {
    this.method = opts.method ?? createDiscoveryMethod(opts);
    this.intervalMs = Math.max(100, parseFixedDuration(opts.config.interval));
    this.dialTimeoutMs = Math.max(50, parseFixedDuration(opts.config.dial_timeout));
    this.stableMarginMs = opts.stableMarginMs ?? 500;
    const self = [formatHostPort(opts.selfAddress, opts.gossipPort)];
    this.filter = new AddressFilter(opts.config.allowed_address_space, self, opts.logger);
    this.metrics = discoveryMetrics(opts.registry);
  }

  /** Resolves once the first round has finished (found, found nothing, or failed). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.method.onChange?.(() => this.trigger());
    await this.ensureMethodStarted();
    await this.runRound(true);
    this.schedule();
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.eventTimer);
    this.inflight?.abort(new Error('discovery stopped'));
    await this.running?.catch(() => {});
    if (this.methodStarted || this.started) {
      await this.method
        .stop(graceful)
        .catch((err) =>
          this.opts.logger.warn({ err: errText(err), method: this.method.type }, 'discovery stop failed'),
        );
    }
  }

  /** Peers found by the last successful round (filtered, sorted). */
  lastPeers(): string[] {
    return [...this.peers];
  }

  /** Watch event: an early round, coalesced. */
  private trigger(): void {
    if (this.stopped || !this.started) return;
    clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => {
      if (this.stopped) return;
      void this.runRound(false).then(() => this.schedule());
    }, 100);
    this.eventTimer.unref?.();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay =
      this.failures > 0
        ? Math.min(this.intervalMs, MIN_BACKOFF_MS * 2 ** Math.min(this.failures - 1, 10))
        : this.intervalMs;
    this.timer = setTimeout(() => void this.runRound(false).then(() => this.schedule()), delay);
    this.timer.unref?.();
  }

  private async ensureMethodStarted(): Promise<boolean> {
    if (this.methodStarted) return true;
    try {
      await this.method.start();
      this.methodStarted = true;
      return true;
    } catch (err) {
      this.opts.logger.warn({ err: errText(err), method: this.method.type }, 'discovery failed');
      return false;
    }
  }

  private runRound(first: boolean): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const p = (async () => {
      try {
        do {
          this.again = false;
          await this.round(first);
          first = false;
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    this.running = p;
    return p;
  }

  private async round(first: boolean): Promise<void> {
    if (this.stopped) return;
    const type = this.method.type;
    this.metrics.rounds.inc({ method: type });
    if (!(await this.ensureMethodStarted())) {
      this.failures++;
      this.metrics.failures.inc({ method: type });
      return;
    }
    const ac = new AbortController();
    this.inflight = ac;
    const timer = setTimeout(
      () => ac.abort(new Error(`discovery round timed out after ${this.dialTimeoutMs} ms`)),
      this.dialTimeoutMs,
    );
    let raw: string[];
    try {
      raw = await Promise.race([
        this.method.discover(ac.signal),
        new Promise<never>((_, reject) =>
          ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }),
        ),
      ]);
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      this.metrics.failures.inc({ method: type });
      this.opts.logger.warn(
        { err: errText(err), method: type, retry_in_ms: this.nextDelay() },
        'discovery failed',
      );
      return;
    } finally {
      clearTimeout(timer);
      this.inflight = undefined;
    }
    if (this.stopped) return;
    this.failures = 0;
    let peers = this.filter.filter(raw);
    if (first && this.stableMarginMs > 0 && peers.length > 0) {
      // Nodes started together: give late announcers a moment so every node sees the same set
      // and picks the same lowest seed.
      await sleep(this.stableMarginMs);
      if (this.stopped) return;
      try {
        const again = await withTimeout(
          this.method.discover(AbortSignal.timeout(this.dialTimeoutMs)),
          this.dialTimeoutMs,
        );
        peers = this.filter.filter([...peers, ...again]);
      } catch {
        /* keep the first answer */
      }
    }
    this.peers = peers;
    this.metrics.peers.set({ method: type }, peers.length);
    this.metrics.lastSuccess.set({ method: type }, Date.now() / 1000);
    const fresh = peers.filter((a) => !this.opts.isMember(a));
    if (fresh.length === 0) {
      const key = `none:${peers.length}`;
      if (first || this.lastLogged !== key)
        this.opts.logger.info({ method: type, peers: peers.length }, 'no new nodes discovered');
      else this.opts.logger.debug({ method: type, peers: peers.length }, 'no new nodes discovered');
      this.lastLogged = key;
      return;
    }
    this.lastLogged = fresh.join(',');
    this.opts.logger.info({ method: type, peers: fresh }, `discovered ${fresh.length} nodes`);
    try {
      // Sorted: everyone contacts the lowest address first, so simultaneous starters converge on one seed.
      const n = await this.opts.join(fresh);
      this.opts.logger.debug({ method: type, joined: n }, 'discovery join done');
    } catch (err) {
      this.opts.logger.warn(
        { err: errText(err), method: type, peers: fresh },
        'failed to join discovered nodes',
      );
    }
  }

  private nextDelay(): number {
    return Math.min(this.intervalMs, MIN_BACKOFF_MS * 2 ** Math.min(this.failures - 1, 10));
  }
}
