/**
 * The counters' timer: runs the tick every `fastMs` while the counters are busy
 * and every `idleMs` otherwise (an idle node wakes 4 times a second instead of
 * 20), and comes forward when they become busy again. Unref'd: it never keeps
 * the process alive.
 */
export class TickLoop {
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private closed = false;

  constructor(
    private readonly o: {
      now: () => number;
      fastMs: number;
      idleMs: number;
      run: () => void;
      busy: () => boolean;
      onError: (err: Error) => void;
    },
  ) {}

  start(): void {
    this.schedule(this.o.fastMs);
  }

  /** Brings the next run forward to the fast pace (no-op when not started). */
  wake(): void {
    if (this.timer && this.nextAt - this.o.now() > this.o.fastMs) this.schedule(this.o.fastMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = this.o.now() + ms;
    this.timer = setTimeout(() => {
      try {
        this.o.run();
      } catch (err) {
        this.o.onError(err as Error);
      }
      this.schedule(this.o.busy() ? this.o.fastMs : this.o.idleMs);
    }, ms);
    this.timer.unref();
  }
}
