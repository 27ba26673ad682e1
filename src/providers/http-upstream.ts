import { Pool } from 'undici';
import type { NetworkConfig } from '../config/schema.js';
import { retryAfterMs, type UpstreamCall, UpstreamError, type UpstreamResponse } from './types.js';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Keep-alive connection pool to one upstream origin; one per provider, built at start / on config change. */
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

  async post(path: string, headers: Record<string, string>, call: UpstreamCall): Promise<UpstreamResponse> {
    const payload = JSON.stringify(call.body);
    const h: Record<string, string> = {
      ...this.extra,
      ...headers,
      'content-type': 'application/json',
      'x-request-id': call.requestId,
    };
    if (call.stream) h.accept = 'text/event-stream';
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path: this.basePath + path,
        method: 'POST',
        headers: h,
        body: payload,
        signal: call.signal,
        headersTimeout: call.timeoutMs,
        bodyTimeout: call.timeoutMs,
      });
    } catch (err) {
      throw mapError(err, call.signal);
    }
    const status = res.statusCode;
    if (call.stream && status >= 200 && status < 300) {
      return { status, body: wrapStream(res.body, call.signal) };
    }
    let body: Buffer;
    try {
      body = await collect(res.body);
    } catch (err) {
      throw mapError(err, call.signal);
    }
    return {
      status,
      body,
      retryAfterMs: status === 429 || status === 503 ? retryAfterMs(res.headers['retry-after']) : undefined,
    };
  }

  async get(
    path: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; body: Buffer }> {
    const res = await this.pool.request({
      path: this.basePath + path,
      method: 'GET',
      headers: { ...this.extra, ...headers },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, body: await collect(res.body) };
  }

  close(): Promise<void> {
    return this.pool.close().catch(() => undefined);
  }
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    chunks.push(c);
    n += c.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
}

async function* wrapStream(body: AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<Buffer> {
  try {
    for await (const c of body) yield c;
  } catch (err) {
    throw mapError(err, signal);
  }
}

export function mapError(err: unknown, signal: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as NodeJS.ErrnoException;
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    return reason?.name === 'TimeoutError'
      ? new UpstreamError('timeout', 'upstream request timed out')
      : new UpstreamError('aborted', 'request aborted');
  }
  if (e?.code && TIMEOUT_CODES.has(e.code)) return new UpstreamError('timeout', 'upstream request timed out');
  return new UpstreamError('connection', `upstream connection error: ${e?.code ?? e?.message ?? 'unknown'}`);
}
