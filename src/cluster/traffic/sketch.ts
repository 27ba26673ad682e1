/**
 * A DDSketch-style latency sketch: values fall into logarithmic bins of
 * relative width 2α, so any quantile is within ±α of the true value. The
 * number of bins is capped; past the cap the lowest bins are collapsed into
 * one (low latencies lose precision first, the tail never does).
 */
export class LatencySketch {
  private readonly bins = new Map<number, number>();
  private readonly logGamma: number;
  private zeroCount = 0;
  count = 0;

  constructor(
    readonly relativeAccuracy = 0.02,
    private readonly maxBins = 256,
  ) {
    this.logGamma = Math.log((1 + relativeAccuracy) / (1 - relativeAccuracy));
  }

  add(valueMs: number): void {
    if (!Number.isFinite(valueMs) || valueMs < 0) return;
    this.count++;
    if (valueMs < 0.01) {
      this.zeroCount++;
      return;
    }
    const i = Math.ceil(Math.log(valueMs) / this.logGamma);
    this.bins.set(i, (this.bins.get(i) ?? 0) + 1);
    if (this.bins.size > this.maxBins) this.collapseLowest();
  }

  merge(other: LatencySketch): void {
    this.count += other.count;
    this.zeroCount += other.zeroCount;
    for (const [i, c] of other.bins) this.bins.set(i, (this.bins.get(i) ?? 0) + c);
    while (this.bins.size > this.maxBins) this.collapseLowest();
  }

  /** The q-quantile (0..1) in ms, or 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(0, Math.min(this.count - 1, Math.floor(q * (this.count - 1))));
    if (rank < this.zeroCount) return 0;
    let seen = this.zeroCount;
    for (const i of [...this.bins.keys()].sort((a, b) => a - b)) {
      seen += this.bins.get(i)!;
      if (seen > rank) return (2 * Math.exp(i * this.logGamma)) / (1 + Math.exp(this.logGamma));
    }
    return 0;
  }

  clear(): void {
    this.bins.clear();
    this.zeroCount = 0;
    this.count = 0;
  }

  private collapseLowest(): void {
    const sorted = [...this.bins.keys()].sort((a, b) => a - b);
    const [a, b] = sorted as [number, number];
    this.bins.set(b, (this.bins.get(b) ?? 0) + this.bins.get(a)!);
    this.bins.delete(a);
  }
}

/** Exponentially weighted moving average with a fixed smoothing factor; undefined until the first sample. */
export class Ewma {
  value: number | undefined;
  constructor(private readonly alpha = 0.2) {}
  add(x: number): void {
    if (!Number.isFinite(x)) return;
    this.value = this.value === undefined ? x : this.value + this.alpha * (x - this.value);
  }
}
