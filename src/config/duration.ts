/**
 * Go-style durations ("500ms", "1h30m", "10s") plus the calendar units the
 * governance windows need ("1d", "1w", "1M" = calendar month, "1Y").
 * A bare number means seconds.
 */

export type Duration =
  | { kind: 'fixed'; ms: number }
  /** Calendar windows reset on month/year boundaries (UTC), so they cannot be a fixed length. */
  | { kind: 'calendar'; months: number };

const FIXED_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|M|Y)/gy;

export function parseDuration(input: string | number): Duration {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error('must be a non-negative number of seconds');
    return { kind: 'fixed', ms: input * 1000 };
  }
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text));
  if (text === '') throw new Error('must not be empty');
  let fixedMs = 0;
  let months = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    const value = Number(m[1]);
    const unit = m[2]!;
    if (unit === 'M') months += value;
    else if (unit === 'Y') months += value * 12;
    else fixedMs += value * FIXED_UNIT_MS[unit]!;
    consumed = PART.lastIndex;
  }
  if (consumed !== text.length) {
    throw new Error('is not a duration (use forms like "500ms", "10s", "1m", "1h", "1d", "1w", "1M", "1Y")');
  }
  if (months > 0) {
    if (fixedMs > 0 || !Number.isInteger(months))
      throw new Error('cannot mix calendar units (M, Y) with others');
    return { kind: 'calendar', months };
  }
  return { kind: 'fixed', ms: fixedMs };
}

/** Parses a duration that must have a fixed length (timeouts, intervals). */
export function parseFixedDuration(input: string | number): number {
  const d = parseDuration(input);
  if (d.kind !== 'fixed')
    throw new Error('must be a fixed duration (calendar units M and Y are not allowed here)');
  return d.ms;
}

/**
 * Start of the window that contains `now`. Fixed windows are aligned to the
 * Unix epoch so every node computes the same boundaries without talking.
 */
export function windowStart(d: Duration, now: number): number {
  if (d.kind === 'fixed') return d.ms > 0 ? now - (now % d.ms) : now;
  const date = new Date(now);
  const totalMonths = date.getUTCFullYear() * 12 + date.getUTCMonth();
  const start = totalMonths - (totalMonths % d.months);
  return Date.UTC(Math.floor(start / 12), start % 12, 1);
}

/** End (exclusive) of the window that starts at `start`. */
export function windowEnd(d: Duration, start: number): number {
  if (d.kind === 'fixed') return start + d.ms;
  const date = new Date(start);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + d.months, 1);
}

export function formatDuration(d: Duration): string {
  if (d.kind === 'calendar') return d.months % 12 === 0 ? `${d.months / 12}Y` : `${d.months}M`;
  return `${d.ms}ms`;
}
