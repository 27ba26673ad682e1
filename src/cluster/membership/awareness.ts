/**
 * Lifeguard local health awareness: a score in [0, max-1]; the probe interval is multiplied by
 * (score + 1), so a node that is itself slow probes less aggressively.
 */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {}

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  get healthScore(): number {
    return this.score;
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
