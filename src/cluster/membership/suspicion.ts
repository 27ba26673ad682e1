/**
 * Lifeguard suspicion timer: starts at `max` (or `min` when no confirmations are expected) and shrinks
 * towards `min` as independent nodes confirm the suspicion:
 *   timeout = max − (ln(c + 1) / ln(k + 1)) × (max − min), never below min.
 */
export class Suspicion {
  private readonly confirmations = new Set<string>();
  private readonly start = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(
    from: string,
    private readonly k: number,
    private readonly min: number,
    private readonly max: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    // The node that raised the suspicion does not count as a confirmation.
    this.confirmations.add(from);
    this.arm(k < 1 ? min : max);
  }

  static remaining(n: number, k: number, elapsed: number, min: number, max: number): number {
    const frac = k < 1 ? 1 : Math.log(n + 1) / Math.log(k + 1);
    const raw = Math.floor(max - frac * (max - min));
    return Math.max(raw, min) - elapsed;
  }

  private arm(timeoutMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    const left = timeoutMs - (Date.now() - this.start);
    this.timer = setTimeout(() => this.fire(), Math.max(0, left));
    this.timer.unref?.();
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.onTimeout(this.confirmations.size - 1);
  }

  /** Records a confirmation from a new node; returns true if it was new and counted. */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations.size - 1 >= this.k) return false;
    if (this.confirmations.has(from)) return false;
    this.confirmations.add(from);
    const c = this.confirmations.size - 1;
    const elapsed = Date.now() - this.start;
    const left = Suspicion.remaining(c, this.k, elapsed, this.min, this.max);
    if (this.timer) clearTimeout(this.timer);
    if (left <= 0) {
      this.fire();
    } else {
      this.timer = setTimeout(() => this.fire(), left);
      this.timer.unref?.();
    }
    return true;
  }

  get timeoutMs(): number {
    const c = this.confirmations.size - 1;
    return Suspicion.remaining(c, this.k, 0, this.min, this.max);
  }

  cancel(): void {
    this.fired = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
