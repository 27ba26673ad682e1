/**
 * Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a
 * logical counter, so versions respect causality even when wall clocks
 * disagree a little, and the node name as the final tie-break so two writes
 * never compare equal. Encoded as a fixed-width string whose lexicographic
 * order is the clock order: `<wall:15 digits>.<counter:5 digits>@<node>`.
 */
export interface HlcTime {
  wall: number;
  counter: number;
  node: string;
}

const WALL_DIGITS = 15;
const COUNTER_DIGITS = 5;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
export const HLC_PATTERN = /^\d{15}\.\d{5}@[\x21-\x7e]{1,255}$/;

export function encodeHlc(t: HlcTime): string {
  return `${String(t.wall).padStart(WALL_DIGITS, '0')}.${String(t.counter).padStart(COUNTER_DIGITS, '0')}@${t.node}`;
}

export function decodeHlc(s: string): HlcTime | undefined {
  if (!HLC_PATTERN.test(s)) return undefined;
  return {
    wall: Number(s.slice(0, WALL_DIGITS)),
    counter: Number(s.slice(WALL_DIGITS + 1, WALL_DIGITS + 1 + COUNTER_DIGITS)),
    node: s.slice(WALL_DIGITS + COUNTER_DIGITS + 2),
  };
}

/** Total order of encoded clocks: wall, then counter, then node name. */
export function compareHlc(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function hlcWall(s: string): number {
  return Number(s.slice(0, WALL_DIGITS));
}

export class RemoteClockTooFarAheadError extends Error {}

export class HybridClock {
  private wall = 0;
  private counter = 0;

  constructor(
    readonly node: string,
    private readonly now: () => number = Date.now,
    /** Remote clocks further ahead than this are refused (a forged or broken clock must not drag ours). */
    private readonly maxDriftMs = 60_000,
  ) {}

  /** The next timestamp for a local event; strictly greater than every one issued or observed before. */
  tick(): string {
    const pt = this.now();
    if (pt > this.wall) {
      this.wall = pt;
      this.counter = 0;
    } else this.bump();
    return encodeHlc({ wall: this.wall, counter: this.counter, node: this.node });
  }

  /** Folds in a clock seen on a message; throws when it is too far ahead of our physical time. */
  observe(remote: string): void {
    const r = decodeHlc(remote);
    if (!r) return;
    const pt = this.now();
    if (r.wall > pt + this.maxDriftMs)
      throw new RemoteClockTooFarAheadError(`remote clock ${remote} is ahead`);
    const wall = Math.max(this.wall, r.wall, pt);
    if (wall === this.wall && wall === r.wall) this.counter = Math.max(this.counter, r.counter);
    else if (wall === r.wall) this.counter = r.counter;
    else if (wall !== this.wall) this.counter = -1;
    this.wall = wall;
    this.bump();
  }

  /** Accepts `remote` only if it is not too far ahead of physical time. */
  acceptable(remote: string): boolean {
    const r = decodeHlc(remote);
    return !!r && r.wall <= this.now() + this.maxDriftMs;
  }

  private bump(): void {
    this.counter++;
    if (this.counter > MAX_COUNTER) {
      this.wall++;
      this.counter = 0;
    }
  }
}
