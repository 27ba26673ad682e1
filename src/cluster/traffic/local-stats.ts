import type { AttemptOutcome } from '../../gateway/hooks.js';
import { Ewma, LatencySketch } from './sketch.js';
import { emptyStats, type FailureClass, type KeyStats, statsId, WINDOW_SECONDS } from './types.js';

const COUNTERS = [
  'requests',
  'ok',
  'rateLimited',
  'serverErrors',
  'timeouts',
  'connectErrors',
  'otherErrors',
] as const;
type Counter = (typeof COUNTERS)[number];
/** Sketches rotate every half window: quantiles cover the last 5–10 s. */
const EPOCH_MS = (WINDOW_SECONDS * 1000) / 2;

interface Entry {
  provider: string;
  key: string;
  model: string;
  /** One slot per second of the window, per counter. */
  ring: Record<Counter, Int32Array>;
  second: number;
  latency: Ewma;
  ttft: Ewma;
  sketches: [LatencySketch, LatencySketch];
  ttftSketches: [LatencySketch, LatencySketch];
  epoch: number;
  lastUsed: number;
}

/** The failure class of an outcome, or undefined for a success (2xx) or a client-side 4xx. */
export function classify(o: AttemptOutcome): FailureClass | 'ok' | 'client' {
  if (o.failure === 'timeout') return 'timeout';
  if (o.failure === 'connection') return 'connect';
  if (o.failure === 'bad_response') return 'server_error';
  if (o.failure === 'aborted') return 'client';
  if (o.status >= 200 && o.status < 300) return 'ok';
  if (o.status === 429) return 'rate_limited';
  if (o.status >= 500 || o.status === 408) return 'server_error';
  if (o.status === 401 || o.status === 403) return 'other';
  return 'client';
}

const COUNTER_OF: Record<FailureClass, Counter> = {
  rate_limited: 'rateLimited',
  server_error: 'serverErrors',
  timeout: 'timeouts',
  connect: 'connectErrors',
  other: 'otherErrors',
};

/**
 * This node's own measurements per (provider, key, model): counts over a
 * sliding 10 s window of 1 s slots, latency and TTFT as EWMA plus a sketch
 * for p50/p99. Bounded: at most `maxEntries` entries, least recently used
 * evicted first.
 */
export class LocalStats {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 1024,
  ) {}

  record(o: AttemptOutcome): void {
    const cls = classify(o);
    if (cls === 'client') return;
    const e = this.entry(o.provider, o.keyName, o.model);
    const t = this.now();
    this.rotate(e, t);
    const slot = e.second % WINDOW_SECONDS;
    e.ring.requests[slot]!++;
    if (cls === 'ok') {
      e.ring.ok[slot]!++;
      e.latency.add(o.latencyMs);
      e.sketches[1].add(o.latencyMs);
      if (o.ttftMs !== undefined) {
        e.ttft.add(o.ttftMs);
        e.ttftSketches[1].add(o.ttftMs);
      }
    } else e.ring[COUNTER_OF[cls]][slot]!++;
    e.lastUsed = t;
  }

  /** Every entry's window summary. */
  snapshot(): KeyStats[] {
    const t = this.now();
    const out: KeyStats[] = [];
    for (const e of this.entries.values()) out.push(this.summarise(e, t));
    return out;
  }

  get(provider: string, key: string, model: string): KeyStats | undefined {
    const e = this.entries.get(statsId(provider, key, model));
    return e ? this.summarise(e, this.now()) : undefined;
  }

  /** Drops entries idle for longer than `idleMs` (after their window emptied). */
  prune(idleMs = 5 * 60_000): void {
    const t = this.now();
    for (const [id, e] of this.entries) if (t - e.lastUsed > idleMs) this.entries.delete(id);
  }

  private summarise(e: Entry, t: number): KeyStats {
    this.rotate(e, t);
    const s = emptyStats(e.provider, e.key, e.model);
    for (const c of COUNTERS) {
      let n = 0;
      for (const v of e.ring[c]) n += v;
      s[c] = n;
    }
    if (s.requests === 0) return s;
    const lat = new LatencySketch();
    lat.merge(e.sketches[0]);
    lat.merge(e.sketches[1]);
    const ttft = new LatencySketch();
    ttft.merge(e.ttftSketches[0]);
    ttft.merge(e.ttftSketches[1]);
    s.latencyMs = round(e.latency.value ?? 0);
    s.p50Ms = round(lat.quantile(0.5));
    s.p99Ms = round(lat.quantile(0.99));
    s.ttftMs = round(e.ttft.value ?? 0);
    s.ttftP99Ms = round(ttft.quantile(0.99));
    return s;
  }

  private entry(provider: string, key: string, model: string): Entry {
    const id = statsId(provider, key, model);
    let e = this.entries.get(id);
    if (e) {
      // Map order doubles as LRU order.
      this.entries.delete(id);
      this.entries.set(id, e);
      return e;
    }
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const t = this.now();
    const ring = {} as Record<Counter, Int32Array>;
    for (const c of COUNTERS) ring[c] = new Int32Array(WINDOW_SECONDS);
    e = {
      provider,
      key,
      model,
      ring,
      second: Math.floor(t / 1000),
      latency: new Ewma(0.2),
      ttft: new Ewma(0.2),
      sketches: [new LatencySketch(), new LatencySketch()],
      ttftSketches: [new LatencySketch(), new LatencySketch()],
      epoch: Math.floor(t / EPOCH_MS),
      lastUsed: t,
    };
    this.entries.set(id, e);
    return e;
  }

  private rotate(e: Entry, t: number): void {
    const sec = Math.floor(t / 1000);
    if (sec !== e.second) {
      const steps = Math.min(WINDOW_SECONDS, sec - e.second);
      for (let i = 1; i <= steps; i++) {
        const slot = (e.second + i) % WINDOW_SECONDS;
        for (const c of COUNTERS) e.ring[c][slot] = 0;
      }
      e.second = sec;
    }
    const epoch = Math.floor(t / EPOCH_MS);
    if (epoch !== e.epoch) {
      const gap = epoch - e.epoch;
      e.epoch = epoch;
      if (gap === 1) {
        e.sketches = [e.sketches[1], e.sketches[0]];
        e.ttftSketches = [e.ttftSketches[1], e.ttftSketches[0]];
      } else {
        e.sketches[0].clear();
        e.ttftSketches[0].clear();
      }
      e.sketches[1].clear();
      e.ttftSketches[1].clear();
    }
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
