import type { NodeHealth } from './types.js';

/**
 * This process's health: CPU (cores used over the last sample), RSS and
 * event-loop lag. Lag is measured as the drift of a 100 ms timer, averaged
 * over the last 500 ms and also kept as the worst recent value, so an
 * overloaded loop shows within half a second and a single GC pause does not
 * dominate. One timer, unref'd; stop() releases it.
 */
export class NodeHealthSampler {
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly lags: number[] = [];
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private cpuCores = 0;
  private cpuTick = 0;

  constructor(
    private readonly inFlight: () => number,
    private readonly rps: () => number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTick = performance.now();
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
    if (this.lags.length > Math.max(1, Math.round(500 / this.intervalMs))) this.lags.shift();
    if (++this.cpuTick * this.intervalMs >= 1000) {
      this.cpuTick = 0;
      const cpu = process.cpuUsage(this.lastCpu);
      this.cpuCores = (cpu.user + cpu.system) / 1000 / (now - this.lastCpuAt);
      this.lastCpu = process.cpuUsage();
      this.lastCpuAt = now;
    }
  }
}
