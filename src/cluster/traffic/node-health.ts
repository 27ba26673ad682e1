import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { NodeHealth } from './types.js';

/**
 * This process's health: CPU (cores used over the last sample), RSS,
 * event-loop lag and event-loop utilization. Lag is measured as the drift of
 * a 100 ms timer, averaged over the last 500 ms, so an overloaded loop shows
 * within half a second and a single GC pause does not dominate. Utilization
 * (the share of wall time the loop was busy, not waiting for I/O) over the
 * same 500 ms is the saturation signal: a loop that is busy all the time but
 * turns over quickly (many short callbacks) shows little lag while requests
 * queue in its sockets. One timer, unref'd; stop() releases it.
 */
export class NodeHealthSampler {
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly lags: number[] = [];
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private cpuCores = 0;
  private cpuTick = 0;
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly elus: EventLoopUtilization[] = [];

  constructor(
    private readonly inFlight: () => number,
    private readonly rps: () => number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTick = performance.now();
    this.lastElu = performance.eventLoopUtilization();
    this.elus.length = 0;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Mean event-loop lag over the last ~500 ms, ms. */
  get loopLagMs(): number {
    if (!this.timer) return 0;
    // A loop so busy that the timer has not fired shows its lag as time since the last tick.
    const pending = performance.now() - this.lastTick - this.intervalMs;
    if (this.lags.length === 0) return Math.max(0, pending);
    let sum = 0;
    for (const l of this.lags) sum += l;
    return Math.max(sum / this.lags.length, pending);
  }

  /** Share of the last ~500 ms the event loop was busy (0..1). */
  get loopUtilization(): number {
    if (!this.timer) return 0;
    let active = 0;
    let idle = 0;
    for (const e of this.elus) {
      active += e.active;
      idle += e.idle;
    }
    // Time since the last tick counts too: a loop too busy to run the timer is busy now.
    const now = performance.eventLoopUtilization(this.lastElu);
    active += now.active;
    idle += now.idle;
    return active + idle > 0 ? active / (active + idle) : 0;
  }

  snapshot(): NodeHealth {
    return {
      cpu: Math.round(this.cpuCores * 100) / 100,
      rssMb: Math.round(process.memoryUsage.rss() / 1048576),
      loopLagMs: Math.round(this.loopLagMs * 10) / 10,
      inFlight: this.inFlight(),
      rps: this.rps(),
    };
  }

  private tick(): void {
    const now = performance.now();
    const lag = Math.max(0, now - this.lastTick - this.intervalMs);
    this.lastTick = now;
    this.lags.push(lag);
    const keep = Math.max(1, Math.round(500 / this.intervalMs));
    if (this.lags.length > keep) this.lags.shift();
    const elu = performance.eventLoopUtilization();
    this.elus.push(performance.eventLoopUtilization(elu, this.lastElu));
    this.lastElu = elu;
    if (this.elus.length > keep) this.elus.shift();
    if (++this.cpuTick * this.intervalMs >= 1000) {
      this.cpuTick = 0;
      const cpu = process.cpuUsage(this.lastCpu);
      this.cpuCores = (cpu.user + cpu.system) / 1000 / (now - this.lastCpuAt);
      this.lastCpu = process.cpuUsage();
      this.lastCpuAt = now;
    }
  }
}
