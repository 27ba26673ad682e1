import { randomBytes } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { parseFixedDuration } from '../config/duration.js';
import type { ObservabilityConfig } from '../config/schema.js';
import type { RequestObserver, RequestRecord } from '../gateway/hooks.js';
import type { RequestLogEntry, RequestLogStore } from '../store/request-log.js';
import type { Logger } from './logger.js';
import { scrubBody } from './scrub.js';

export interface RequestLogWriterOptions {
  store: RequestLogStore;
  config: ObservabilityConfig['request_log'];
  nodeName: () => string;
  logger: Logger;
  registry: Registry;
  /** How often queued records are written (ms). */
  flushIntervalMs?: number;
  /** Records per write. */
  batchSize?: number;
  /** How often the retention job runs (ms); default a tenth of the retention, at most an hour. */
  pruneIntervalMs?: number;
  now?: () => number;
}

/** Random per process, so ids from different nodes in the same millisecond differ without a syscall per id. */
const PROCESS_TAG = randomBytes(5).toString('hex');
let idCounter = 0;

/**
 * Time-sortable unique id: arrival time in ms (base 36, 9 characters), a
 * random per-process tag, then a per-process counter (base 36, 6 characters).
 */
export function logEntryId(startedAt: number): string {
  idCounter = (idCounter + 1) % 2_176_782_336; // 36^6
  return `${Math.max(0, Math.floor(startedAt)).toString(36).padStart(9, '0')}${PROCESS_TAG}${idCounter.toString(36).padStart(6, '0')}`;
}

/**
 * The request log's writer. `onRequestEnd` only appends the record to a
 * bounded queue (a full queue drops and counts, it never grows); a timer
 * turns queued records into rows and writes them in batches, one batch at a
 * time; a retention job deletes what is older than the retention.
 */
export class RequestLogWriter implements RequestObserver {
  private queue: RequestRecord[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly retried = new WeakSet<RequestRecord>();
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly metrics: {
    written: Counter;
    dropped: Counter<'reason'>;
    writeErrors: Counter;
    pruned: Counter;
    queue: Gauge;
  };

  constructor(private readonly o: RequestLogWriterOptions) {
    this.batchSize = o.batchSize ?? 500;
    this.retentionMs = parseFixedDuration(o.config.retention);
    const reg = [o.registry];
    this.metrics = {
      written: new Counter({
        name: 'deepintshield_request_log_written_total',
        help: 'Request-log entries written',
        registers: reg,
      }),
      dropped: new Counter({
        name: 'deepintshield_request_log_dropped_total',
        help: 'Request-log entries dropped (queue full, or the store failed twice)',
        labelNames: ['reason'],
        registers: reg,
      }),
      writeErrors: new Counter({
        name: 'deepintshield_request_log_write_errors_total',
        help: 'Failed request-log batch writes',
        registers: reg,
      }),
      pruned: new Counter({
        name: 'deepintshield_request_log_pruned_total',
        help: 'Request-log entries deleted by retention',
        registers: reg,
      }),
      queue: new Gauge({
        name: 'deepintshield_request_log_queue_depth',
        help: 'Request-log entries waiting to be written',
        registers: reg,
        collect: () => {
          this.metrics.queue.set(this.queue.length);
        },
      }),
    };
  }

  start(): void {
    const every = this.o.flushIntervalMs ?? 250;
    this.timer = setInterval(() => void this.flush(), every);
    this.timer.unref();
    const pruneEvery = this.o.pruneIntervalMs ?? Math.min(3_600_000, Math.max(10_000, this.retentionMs / 10));
    this.pruneTimer = setInterval(() => void this.prune(), pruneEvery);
    this.pruneTimer.unref();
    void this.prune();
  }

  onRequestEnd(rec: RequestRecord): void {
    if (this.closed || this.queue.length >= this.o.config.queue_size) {
      this.metrics.dropped.inc({ reason: 'queue_full' });
      return;
    }
    this.queue.push(rec);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Writes everything queued so far (one batch at a time); never throws. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.queue.length === 0) return Promise.resolve();
    this.flushing = this.drainQueue().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const records = this.queue.splice(0, this.batchSize);
      const entries = records.map((r) => this.toEntry(r));
      try {
        await this.o.store.insert(entries);
        this.metrics.written.inc(entries.length);
      } catch (err) {
        this.metrics.writeErrors.inc();
        this.o.logger.warn(
          { err: (err as Error).message, entries: entries.length },
          'request log write failed',
        );
        // Each record gets one retry at the next flush, if it fits; then it is dropped and counted.
        const again = records.filter((r) => !this.retried.has(r));
        const room = Math.max(0, this.o.config.queue_size - this.queue.length);
        const keep = again.slice(0, room);
        for (const r of keep) this.retried.add(r);
        this.queue.unshift(...keep);
        const lost = records.length - keep.length;
        if (lost > 0) this.metrics.dropped.inc({ reason: 'write_failed' }, lost);
        return;
      }
      // Give the event loop back between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  toEntry(r: RequestRecord): RequestLogEntry {
    const e: RequestLogEntry = {
      id: logEntryId(r.startedAt),
      time: new Date(r.startedAt).toISOString(),
      node: this.o.nodeName(),
      request_id: r.requestId,
      route: r.route,
      virtual_key: r.virtualKeyId ?? null,
      provider: r.provider,
      model: r.model,
      status: r.status,
      latency_ms: round1(r.latencyMs),
      ttft_ms: r.ttftMs === undefined ? null : round1(r.ttftMs),
      tokens: { prompt: r.promptTokens, completion: r.completionTokens },
      cost: r.cost,
      attempts: r.attempts,
      fallback_index: r.fallbackIndex,
      error: r.error ?? null,
      stream: r.stream,
    };
    if (this.o.config.bodies) {
      const max = this.o.config.max_body_bytes;
      if (r.requestBody !== undefined) e.request_body = scrubBody(r.requestBody, max);
      if (r.responseBody !== undefined) e.response_body = scrubBody(r.responseBody, max);
    }
    return e;
  }

  /** Deletes entries older than the retention; never throws. */
  async prune(): Promise<number> {
    const now = (this.o.now ?? Date.now)();
    try {
      const n = await this.o.store.prune(now - this.retentionMs);
      if (n > 0) this.metrics.pruned.inc(n);
      return n;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'request log retention failed');
      return 0;
    }
  }

  /** Writes what is queued, then stops; later records are dropped and counted. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    await this.flush();
    this.closed = true;
    await this.flush();
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
