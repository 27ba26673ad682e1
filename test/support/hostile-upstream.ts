import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readRequestBody } from './http-request.js';

/** Text with CJK, emoji (ZWJ sequence), and a combining mark: every split point is a trap. */
export const MULTILINGUAL = '日本語のテキスト 👩‍💻🎉 é (e\u0301) 한국어 — Ωμέγα';

/**
 * An upstream that does everything a real one should not, chosen by the
 * model name (the part after "provider/"):
 *  - `reflect-<status>`: error answer quoting the credentials it was sent (JSON message and an HTML page);
 *  - `huge-json-<MB>` / `huge-error-<MB>`: a 200 / 500 body of that size, written in 64 KiB chunks;
 *  - `huge-event-<MB>`: a stream whose second event is that large;
 *  - `bad-choices` / `bad-json`: a stream with one good chunk then `{"choices":5}` / a non-JSON `data:`;
 *  - `split-<offset>`: a stream whose text is MULTILINGUAL, its bytes cut at `offset` into separate writes;
 *  - `never-ending`: a stream that sends a chunk every 20 ms until the client hangs up;
 *  - `model-refused`: 404 model_not_found;
 *  - `echo-json` / `echo-stream`: a 200 answer (JSON / stream) whose text quotes the credentials and the
 *    `x-extra` header it was sent; the stream's bytes are cut in the middle of the credential.
 * Speaks OpenAI chat (any path but /responses: 404) and Anthropic messages (paths ending /messages).
 */
export class HostileUpstream {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** Streams currently open (never-ending ones included). */
  open = 0;
  requests: { path: string; headers: IncomingMessage['headers']; model: string }[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse((await readRequestBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      /* GET */
    }
    const model = String(body.model ?? '');
    const path = req.url ?? '';
    this.requests.push({ path, headers: req.headers, model });
    const anthropic = path.endsWith('/messages');
    const cred = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
    let m: RegExpExecArray | null;
    // No Responses API of its own (the gateway then translates Responses to chat).
    if (req.method === 'GET' || path.endsWith('/responses')) return void res.writeHead(404).end();
    m = /^reflect-(\d{3})$/.exec(model);
    if (m) {
      const status = Number(m[1]);
      if (status === 502) {
        res.writeHead(502, { 'content-type': 'text/html' });
        return void res.end(`<html><body><h1>Bad gateway</h1><p>auth was ${cred}</p></body></html>`);
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${cred}. Header x-api-key=${cred}`,
            type: 'invalid_request_error',
            code: 'bad_key',
          },
        }),
      );
    }
    m = /^huge-(json|error)-(\d+)$/.exec(model);
    if (m) {
      const size = Number(m[2]) * 1024 * 1024;
      res.writeHead(m[1] === 'json' ? 200 : 500, { 'content-type': 'application/json' });
      const piece = Buffer.alloc(64 * 1024, 0x61);
      res.write('{"error":{"message":"');
      for (let sent = 0; sent < size && !res.destroyed; sent += piece.length)
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      return void res.end('"}}');
    }
    const extra = String(req.headers['x-extra'] ?? '');
    if (model === 'echo-json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const content = `you sent ${cred} and ${extra}`;
      return void res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          created: 1,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        }),
      );
    }
    if (model === 'model-refused') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({
          error: {
            message: `The model \`${model}\` does not exist or you do not have access to it.`,
            type: 'invalid_request_error',
            code: 'model_not_found',
          },
        }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    this.open++;
    res.on('close', () => this.open--);
    const chunk = (text: string) =>
      anthropic
        ? `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`
        : `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
    const start = anthropic
      ? `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', model, usage: { input_tokens: 5, output_tokens: 1 } } })}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`
      : '';
    const end = anthropic
      ? 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
      : `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: ${JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } })}\n\ndata: [DONE]\n\n`;
    const flush = () => new Promise((r) => setTimeout(r, 2));
    m = /^huge-event-(\d+)$/.exec(model);
    if (m) {
      res.write(start + chunk('ok'));
      const size = Number(m[1]) * 1024 * 1024;
      res.write('data: {"choices":[{"index":0,"delta":{"content":"');
      const piece = Buffer.alloc(64 * 1024, 0x62);
      for (let sent = 0; sent < size && !res.destroyed; sent += piece.length)
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      return void res.end('"}}]}\n\n');
    }
    if (model === 'bad-choices' || model === 'bad-json') {
      res.write(start + chunk('first '));
      await flush();
      return void res.end(model === 'bad-choices' ? 'data: {"choices":5}\n\n' : 'data: this is not json\n\n');
    }
    m = /^split-(\d+)$/.exec(model);
    if (m) {
      const bytes = Buffer.from(start + chunk(MULTILINGUAL) + end);
      // Cut inside the text part of the payload, where multi-byte characters are.
      const textAt = bytes.indexOf(Buffer.from(MULTILINGUAL.slice(0, 1)));
      const at = textAt + (Number(m[1]) % Buffer.byteLength(MULTILINGUAL));
      res.write(bytes.subarray(0, at));
      await flush();
      return void res.end(bytes.subarray(at));
    }
    if (model === 'echo-stream') {
      const bytes = Buffer.from(start + chunk(`you sent ${cred}`) + chunk(` and ${extra}`) + end);
      const at = bytes.indexOf(cred) + Math.floor(cred.length / 2);
      res.write(bytes.subarray(0, at));
      await flush();
      return void res.end(bytes.subarray(at));
    }
    if (model === 'never-ending') {
      res.write(start);
      while (!res.destroyed) {
        res.write(chunk('more '));
        await new Promise((r) => setTimeout(r, 20));
      }
      return;
    }
    res.end(start + chunk('fine') + end);
  }
}
