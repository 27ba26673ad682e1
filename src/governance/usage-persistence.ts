import type { DistributedCounters } from '../cluster/state/counters.js';
import type { Logger } from '../observability/logger.js';
import type { ConfigStore } from '../store/types.js';

/** Windows at least this long are persisted (budgets, hourly/daily/monthly limits). */
export const PERSIST_MIN_WINDOW_MS = 3_600_000;

/**
 * Saves long-window usage (every node's G-counter slots it knows) to the
 * store periodically and on shutdown, and merges it back at start, so
 * budgets survive restarts, even of the whole cluster. Merging is max per
 * (counter, window, node), so concurrent saves from several nodes are safe.
 */
export class UsagePersistence {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly counters: DistributedCounters,
    private readonly logger: Logger,
    private readonly intervalMs = 5000,
  ) {}

  /** Loads persisted usage; failures are logged, not thrown (the store may be down). */
  async restore(): Promise<number> {
    try {
      const since = Date.now() - 400 * 86_400_000;
      // Nothing older than the longest supported window (a year) can still be current.
      await this.store.pruneUsage(since).catch(() => 0);
      const rows = await this.store.loadUsage(since);
      this.counters.restoreUsage(rows);
      return rows.length;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not load persisted usage');
      return 0;
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.save(), this.intervalMs);
    this.timer.unref();
  }

  save(): Promise<void> {
    this.saving ??= (async () => {
      try {
        await this.store.saveUsage(this.counters.usageRows(PERSIST_MIN_WINDOW_MS));
      } catch (err) {
        this.logger.debug({ err: (err as Error).message }, 'could not persist usage');
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.saving;
    await this.save();
  }
}
