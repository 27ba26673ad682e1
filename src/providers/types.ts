/** Small shared pieces of the upstream path: failure type, cancellation, retry-after parsing. */

/** Failure before any answer: connection refused/reset, timeout, abort. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'connection' | 'timeout' | 'aborted' | 'bad_response',
    message: string,
  ) {
    super(message);
  }
}

export function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/**
 * A cheap cancellation token with the subset of AbortSignal the request path
 * uses (AbortController/EventTarget cost several microseconds per request).
 */
export class Cancel {
  aborted = false;
  private fns: (() => void)[] | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fns = this.fns;
    this.fns = undefined;
    if (fns) for (const fn of fns) fn();
  }

  /** Called once on abort (not if already aborted: check `aborted` first). */
  addEventListener(_type: 'abort', fn: () => void, _opts?: { once?: boolean }): void {
    if (this.aborted) return;
    if (this.fns) this.fns.push(fn);
    else this.fns = [fn];
  }

  removeEventListener(_type: 'abort', fn: () => void): void {
    const fns = this.fns;
    if (!fns) return;
    const i = fns.indexOf(fn);
    if (i !== -1) fns.splice(i, 1);
  }
}
