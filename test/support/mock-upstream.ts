import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerOf, readRequestBody } from './http-request.js';

/** What the next matching request gets instead of the default answer. */
export interface MockBehavior {
  /** Only requests whose path ends with this are affected (default: any). */
  path?: string;
  /** Only requests carrying this provider key (Bearer or x-api-key). */
  key?: string;
  status?: number;
  retryAfter?: number;
  /** Error message for a non-2xx status. */
  message?: string;
  delayMs?: number;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Stream: send the first chunk, then hold the stream open until `release()` or a client abort. */
  holdStream?: boolean;
  /** Stream: pause between chunks. */
  chunkIntervalMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  /** Set when the client closed the connection before the answer ended. */
  aborted: boolean;
  finished: boolean;
  /** Client port of the connection, to tell reused keep-alive connections from new ones. */
  remotePort: number | undefined;
}

const WORDS = ['Hello', ' from', ' the', ' mock', ' upstream', '.'];

/**
 * A real HTTP mock LLM provider for tests: OpenAI chat (JSON/SSE with
 * include_usage), completions, embeddings, models; Anthropic messages
 * (JSON/SSE). Programmable per request through a queue (`next`), or with the
 * header `x-mock-status`. Records every request and whether it was aborted.
 */
export class MockUpstream {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: MockBehavior[] = [];
  private server?: Server;
  private held: (() => void)[] = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Queues behaviours, consumed in order by matching requests. */
  next(...b: MockBehavior[]): this {
    this.queue.push(...b);
    return this;
  }

  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
    this.release();
  }

  /** Lets held streams finish. */
  release(): void {
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }

  /** Requests to a path suffix, e.g. "/chat/completions". */
  on(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(path));
  }

  private take(path: string, key: string | undefined): MockBehavior | undefined {
    const i = this.queue.findIndex((b) => (!b.path || path.endsWith(b.path)) && (!b.key || b.key === key));
    return i === -1 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readRequestBody(req)).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      aborted: false,
      finished: false,
      remotePort: req.socket.remotePort,
    };
    this.requests.push(rec);
    res.once('close', () => {
      if (!res.writableFinished) rec.aborted = true;
    });
    res.once('finish', () => {
      rec.finished = true;
    });
    const key =
      typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : bearerOf(req.headers);
    const b: MockBehavior = this.take(path, key) ?? {};
    const forced = Number(req.headers['x-mock-status']);
    const status = b.status ?? (Number.isFinite(forced) && forced > 0 ? forced : 200);
    if (b.hang) return; // never answers; the client's timeout or abort ends it
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    const anthropic = path.endsWith('/messages');
    if (status !== 200) {
      const message = b.message ?? `mock error ${status}`;
      const payload = anthropic
        ? { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } }
        : { error: { message, type: 'mock_error', code: `mock_${status}` } };
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (b.retryAfter !== undefined) headers['retry-after'] = String(b.retryAfter);
      res.writeHead(status, headers);
      res.end(JSON.stringify(payload));
      return;
    }
    const model = String(body?.model ?? 'unknown');
    // Like vLLM and Ollama: no Responses API of its own.
    if (path.endsWith('/responses')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Not Found', type: 'not_found', code: null } }));
      return;
    }
    if (req.method === 'GET' && path.endsWith('/models'))
      return json(res, {
        object: 'list',
        data: ['mock-model', 'gpt-4o', 'claude-3-5-haiku'].map((id) => ({
          id,
          object: 'model',
          created: 0,
          owned_by: 'mock',
        })),
      });
    if (path.endsWith('/embeddings')) {
      const input = body?.input;
      const n = Array.isArray(input) ? input.length : 1;
      return json(res, {
        object: 'list',
        model,
        data: Array.from({ length: n }, (_, i) => ({
          object: 'embedding',
          index: i,
          embedding: [0.1, 0.2, 0.3],
        })),
        usage: { prompt_tokens: 3 * n, total_tokens: 3 * n },
      });
    }
    const stream = body?.stream === true;
    if (anthropic) {
      if (!stream)
        return json(res, {
          id: 'msg_mock1',
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: WORDS.join('') }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 11, output_tokens: WORDS.length },
        });
      const ev = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      const events = [
        ev('message_start', {
          type: 'message_start',
          message: {
            id: 'msg_mock1',
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 11, output_tokens: 1 },
          },
        }),
        ev('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }),
        ...WORDS.map((w) =>
          ev('content_block_delta', {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text: w },
          }),
        ),
        ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
        ev('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: WORDS.length },
        }),
        ev('message_stop', { type: 'message_stop' }),
      ];
      return this.stream(res, events, b);
    }
    const chat = path.endsWith('/chat/completions');
    const usage = { prompt_tokens: 9, completion_tokens: WORDS.length, total_tokens: 9 + WORDS.length };
    if (!stream) {
      const text = WORDS.join('');
      return json(
        res,
        chat
          ? {
              id: 'chatcmpl-mock1',
              object: 'chat.completion',
              created: 1,
              model,
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: text, refusal: null },
                  logprobs: null,
                  finish_reason: 'stop',
                },
              ],
              usage,
            }
          : {
              id: 'cmpl-mock1',
              object: 'text_completion',
              created: 1,
              model,
              choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
              usage,
            },
      );
    }
    const includeUsage =
      (body?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const u = includeUsage ? ',"usage":null' : '';
    const head = `{"id":"chatcmpl-mock1","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}","created":1,"model":${JSON.stringify(model)},`;
    const events = WORDS.map(
      (w, i) =>
        `data: ${head}"choices":[${JSON.stringify(chat ? { index: 0, delta: i === 0 ? { role: 'assistant', content: w } : { content: w }, finish_reason: null } : { index: 0, text: w, finish_reason: null })}]${u}}\n\n`,
    );
    events.push(
      `data: ${head}"choices":[${JSON.stringify(chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' })}]${u}}\n\n`,
    );
    if (includeUsage) events.push(`data: ${head}"choices":[],"usage":${JSON.stringify(usage)}}\n\n`);
    events.push('data: [DONE]\n\n');
    return this.stream(res, events, b);
  }

  private async stream(res: ServerResponse, events: string[], b: MockBehavior): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      res.write(events[i]);
      if (i === 0 && b.holdStream)
        await new Promise<void>((r) => {
          this.held.push(r);
          res.once('close', r);
        });
      else if (b.chunkIntervalMs) await new Promise((r) => setTimeout(r, b.chunkIntervalMs));
    }
    if (!res.destroyed) res.end();
  }
}

function json(res: ServerResponse, v: unknown): void {
  const s = JSON.stringify(v);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}
