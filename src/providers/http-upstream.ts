import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import type { NetworkConfig } from '../config/schema.js';
import {
  type Cancel,
  retryAfterMs,
  type UpstreamCall,
  UpstreamError,
  type UpstreamResponse,
} from './types.js';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Chunks buffered for a slow client before the upstream socket is paused. */
const HIGH_WATER = 16;

/**
 * Keep-alive connection pool to one upstream origin; one per provider, built
 * at start / on config change. Uses undici's dispatch() with a plain handler:
 * no Readable stream per request.
 */
export class HttpUpstream {
  private readonly pool: Pool;
  readonly basePath: string;
  private readonly extra: Record<string, string>;

  constructor(baseUrl: string, net: NetworkConfig) {
    const u = new URL(baseUrl);
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(u.origin, {
      connections: net.max_connections,
      keepAliveTimeout: 30_000,
      pipelining: 1,
      connect: { timeout: Math.min(10_000, net.default_request_timeout_in_seconds * 1000) },
    });
    this.extra = net.extra_headers;
  }

  post(path: string, headers: Record<string, string>, call: UpstreamCall): Promise<UpstreamResponse> {
    const h: Record<string, string> = {
      ...this.extra,
      ...headers,
      'content-type': 'application/json',
      'x-request-id': call.requestId,
    };
    if (call.stream) h.accept = 'text/event-stream';
    return new Promise((resolve, reject) => {
      const handler = new ResponseHandler(call, resolve, reject);
      this.pool.dispatch(
        {
          path: this.basePath + path,
          method: 'POST',
          headers: h,
          body: JSON.stringify(call.body),
          headersTimeout: call.timeoutMs,
          bodyTimeout: call.timeoutMs,
        },
        handler as unknown as Dispatcher.DispatchHandler,
      );
    });
  }

  close(): Promise<void> {
    return this.pool.close().catch(() => undefined);
  }
}

/** Legacy (native) undici handler: buffers JSON/error bodies, queues stream chunks with backpressure. */
class ResponseHandler {
  private abort?: (err?: Error) => void;
  private status = 0;
  private retryAfter?: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private stream?: ChunkStream;
  private settled = false;
  private readonly onSignal = () => this.abort?.(new UpstreamError('aborted', 'request aborted'));

  constructor(
    private readonly call: UpstreamCall,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (e: UpstreamError) => void,
  ) {
    if (call.signal.aborted) return;
    call.signal.addEventListener('abort', this.onSignal, { once: true });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.call.signal.aborted) abort(new UpstreamError('aborted', 'request aborted'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.status = statusCode;
    if (statusCode === 429 || statusCode === 503) {
      for (let i = 0; i < rawHeaders.length; i += 2) {
        if (
          rawHeaders[i]!.length === 11 &&
          rawHeaders[i]!.toString('latin1').toLowerCase() === 'retry-after'
        ) {
          this.retryAfter = retryAfterMs(rawHeaders[i + 1]!.toString('latin1'));
        }
      }
    }
    if (this.call.stream && statusCode >= 200 && statusCode < 300) {
      this.stream = new ChunkStream(resume);
      this.settled = true;
      this.resolve({ status: statusCode, body: this.stream });
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream) return this.stream.push(chunk);
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  onComplete(): void {
    this.call.signal.removeEventListener('abort', this.onSignal);
    if (this.stream) {
      this.stream.end();
      return;
    }
    if (this.settled) return;
    this.settled = true;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.resolve({ status: this.status, body, retryAfterMs: this.retryAfter });
  }

  onError(err: Error): void {
    this.call.signal.removeEventListener('abort', this.onSignal);
    const e = mapError(err, this.call.signal);
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
  return new UpstreamError('connection', `upstream connection error: ${e?.code ?? e?.message ?? 'unknown'}`);
}
