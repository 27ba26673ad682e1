import type { MockConfig, NetworkConfig, ProviderKeyConfig, ProviderType } from '../config/schema.js';

/** What the client asked for, in the client's wire format. */
export type Operation = 'chat' | 'completions' | 'embeddings' | 'messages';

/** The wire format a body is in. */
export type WireFormat = 'openai' | 'anthropic';

export interface KeyEntry {
  name: string;
  value: string;
  /** Empty = every model. */
  models: ReadonlySet<string>;
  weight: number;
}

/** One upstream call, already in the provider's native format. */
export interface UpstreamCall {
  op: Operation;
  /** Native request body (model already replaced by the bare model name). */
  body: Record<string, unknown>;
  stream: boolean;
  key: KeyEntry;
  signal: Cancel;
  timeoutMs: number;
  requestId: string;
}

/**
 * An upstream answer. `body` is a Buffer for JSON answers and errors, an
 * async iterable of raw SSE bytes for a successful stream.
 */
export interface UpstreamResponse {
  status: number;
  retryAfterMs?: number;
  body: Buffer | AsyncIterable<Buffer>;
}

/** Failure before any answer: connection refused/reset, timeout, abort. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'connection' | 'timeout' | 'aborted' | 'bad_response',
    message: string,
  ) {
    super(message);
  }
}

export interface ProviderAdapter {
  readonly type: ProviderType;
  /** Operations served natively; others are translated (chat<->messages) or refused. */
  supports(op: Operation): boolean;
  send(call: UpstreamCall): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export interface ProviderRuntimeConfig {
  name: string;
  network: NetworkConfig;
  keys: ProviderKeyConfig[];
  mock?: MockConfig;
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
