import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import type { NetworkConfig } from '../../config/schema.js';
import type { UpstreamResponse } from '../provider.js';
import { type Cancel, retryAfterMs, UpstreamError } from '../types.js';

/** One HTTP request a provider wants sent. */
export interface UpstreamRequest {
  /** Absolute URL (origin + path + query). */
  url: string;
  method?: 'POST' | 'GET';
  headers: Record<string, string>;
  /** JSON text or bytes; absent for GET. */
  body?: string | Buffer;
  /** Whether a 2xx answer is a stream (handed over as it arrives, never buffered). */
  stream: boolean;
}

export interface CallContext {
  signal: Cancel;
  timeoutMs: number;
  requestId: string;
  traceparent?: string;
}

/**
 * The shared upstream HTTP client every provider sends through: keep-alive
 * pools per origin, `extra_headers`, timeouts, abort, quota headers, and the
 * size limits (a JSON/error body over `max_response_bytes` is a 502; streams
 * are not buffered here at all).
 */
export interface UpstreamClient {
  send(req: UpstreamRequest, ctx: CallContext): Promise<UpstreamResponse>;
  readonly maxResponseBytes: number;
  readonly maxEventBytes: number;
  close(): Promise<void>;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Chunks queued for a slow consumer before the upstream socket is paused. */
const HIGH_WATER = 16;
const MAX_POOLS = 64;
/** How long a closing pool lets in-flight requests finish (streams included) before it is destroyed. */
const CLOSE_GRACE_MS = 120_000;
const QUOTA_PREFIXES = ['x-ratelimit-', 'anthropic-ratelimit-'];

export function createUpstreamClient(net: NetworkConfig): UpstreamClient {
  return new PooledClient(net);
}

class PooledClient implements UpstreamClient {
  private readonly pools = new Map<string, Pool>();
  readonly maxResponseBytes: number;
  readonly maxEventBytes: number;

  constructor(private readonly net: NetworkConfig) {
    this.maxResponseBytes = net.max_response_bytes;
    this.maxEventBytes = net.max_event_bytes;
  }

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      // Origins come from config (base_url, per-key endpoints), so this stays small; bounded anyway.
      if (this.pools.size >= MAX_POOLS) {
        const [first, old] = this.pools.entries().next().value as [string, Pool];
        this.pools.delete(first);
        void old.close().catch(() => undefined);
      }
      p = new Pool(origin, {
        connections: this.net.max_connections,
        keepAliveTimeout: 30_000,
        pipelining: 1,
        connect: { timeout: Math.min(10_000, this.net.default_request_timeout_in_seconds * 1000) },
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  send(req: UpstreamRequest, ctx: CallContext): Promise<UpstreamResponse> {
    const u = new URL(req.url);
    const h: Record<string, string> = {
      ...this.net.extra_headers,
      ...req.headers,
      'x-request-id': ctx.requestId,
    };
    if (req.body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
    if (req.stream && !h.accept) h.accept = 'text/event-stream';
    if (ctx.traceparent) h.traceparent = ctx.traceparent;
    return new Promise((resolve, reject) => {
      const handler = new ResponseHandler(req.stream, ctx, this.maxResponseBytes, resolve, reject);
      this.pool(u.origin).dispatch(
        {
          path: u.pathname + u.search,
          method: req.method ?? 'POST',
          headers: h,
          body: req.body,
          headersTimeout: ctx.timeoutMs,
          bodyTimeout: ctx.timeoutMs,
        },
        handler as unknown as Dispatcher.DispatchHandler,
      );
    });
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    // In-flight requests may finish for a while; then the pool is destroyed so that nothing hangs on.
    await Promise.all(
      pools.map(async (p) => {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((r) => {
          timer = setTimeout(r, CLOSE_GRACE_MS);
          timer.unref();
        });
        await Promise.race([p.close().catch(() => undefined), grace]);
        clearTimeout(timer);
        await p.destroy().catch(() => undefined);
      }),
    );
  }
}

/** Legacy (native) undici handler: bounded buffering of JSON/error bodies, stream chunks with backpressure. */
class ResponseHandler {
  private abort?: (err?: Error) => void;
  private status = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private stream?: ChunkStream;
  private settled = false;
  private readonly onSignal = () => this.abort?.(new UpstreamError('aborted', 'request aborted'));

  constructor(
    private readonly streaming: boolean,
    private readonly ctx: CallContext,
    private readonly maxBytes: number,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (e: UpstreamError) => void,
  ) {
    if (ctx.signal.aborted) return;
    ctx.signal.addEventListener('abort', this.onSignal, { once: true });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.ctx.signal.aborted) abort(new UpstreamError('aborted', 'request aborted'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.status = statusCode;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      if (
        name === 'retry-after' ||
        name === 'retry-after-ms' ||
        QUOTA_PREFIXES.some((p) => name.startsWith(p))
      )
        this.headers[name] = rawHeaders[i + 1]!.toString('latin1').slice(0, 200);
    }
    if (this.streaming && statusCode >= 200 && statusCode < 300) {
      this.stream = new ChunkStream(resume);
      this.settled = true;
      this.resolve({ status: statusCode, headers: this.headers, body: this.stream });
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream) return this.stream.push(chunk);
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.chunks = [];
      this.abort?.(
        new UpstreamError(
          'bad_response',
          `upstream answer is larger than the limit of ${this.maxBytes} bytes`,
        ),
      );
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.ctx.signal.removeEventListener('abort', this.onSignal);
    if (this.stream) {
      this.stream.end();
      return;
    }
    if (this.settled) return;
    this.settled = true;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const h = this.headers;
    const ra = h['retry-after-ms'] ? Number(h['retry-after-ms']) : retryAfterMs(h['retry-after']);
    this.resolve({
      status: this.status,
      headers: h,
      body,
      retryAfterMs: Number.isFinite(ra) ? ra : undefined,
    });
  }

  onError(err: Error): void {
    this.ctx.signal.removeEventListener('abort', this.onSignal);
    this.chunks = [];
    const e = mapError(err, this.ctx.signal);
    if (this.stream) {
      this.stream.fail(e);
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.reject(e);
  }
}

/** Async iterable of response chunks; pauses the upstream socket when the consumer falls behind. */
class ChunkStream implements AsyncIterable<Buffer> {
  private queue: Buffer[] = [];
  private done = false;
  private error?: UpstreamError;
  private waiter?: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void };
  private paused = false;

  constructor(private readonly resume: () => void) {}

  push(chunk: Buffer): boolean {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: chunk, done: false });
      return true;
    }
    this.queue.push(chunk);
    if (this.queue.length >= HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  end(): void {
    this.done = true;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  fail(e: UpstreamError): void {
    this.error = e;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.reject(e);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => {
        if (this.queue.length > 0) {
          const value = this.queue.shift()!;
          if (this.paused && this.queue.length === 0) {
            this.paused = false;
            this.resume();
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.error) return Promise.reject(this.error);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
    };
  }
}

export function mapError(err: unknown, signal: Cancel): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (signal.aborted) return new UpstreamError('aborted', 'request aborted');
  const e = err as NodeJS.ErrnoException;
  if (e?.code && TIMEOUT_CODES.has(e.code)) return new UpstreamError('timeout', 'upstream request timed out');
  return new UpstreamError('connection', `upstream connection error: ${e?.code ?? 'unknown'}`);
}
