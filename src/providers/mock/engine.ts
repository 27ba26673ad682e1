import type { MockConfig } from '../../config/schema.js';
import type { UpstreamResponse } from '../provider.js';
import { type Cancel, UpstreamError } from '../types.js';
import { sampleFor } from './schema-sample.js';

/** The mock's own wire operations (it answers in OpenAI or Anthropic shape). */
export type MockOp = 'chat' | 'completions' | 'embeddings' | 'messages';

export interface MockCall {
  op: MockOp;
  body: Record<string, unknown>;
  stream: boolean;
  signal: Cancel;
  timeoutMs: number;
}
type UpstreamCall = MockCall;

export const MOCK_MODELS = ['mock-model', 'mock-chat', 'mock-embed'];

const DEFAULTS: MockConfig = {
  latency_ms: 0,
  chunks: 5,
  chunk_interval_ms: 0,
  fail_rate: 0,
  fail_status: 500,
  hang_rate: 0,
};
const EMBED_DIM = 8;

/** In-process deterministic upstream: no network, answers in each operation's native wire format. */
export class MockEngine {
  private readonly cfg: MockConfig;
  private seq = 0;

  constructor(cfg: MockConfig | undefined) {
    this.cfg = cfg ?? DEFAULTS;
  }

  async send(call: UpstreamCall): Promise<UpstreamResponse> {
    const c = this.cfg;
    if (c.hang_rate > 0 && Math.random() < c.hang_rate) await hang(call);
    if (c.latency_ms > 0) await delay(c.latency_ms, call);
    if (c.fail_rate > 0 && Math.random() < c.fail_rate) {
      return {
        status: c.fail_status,
        headers: {},
        body: Buffer.from(
          JSON.stringify({
            error: { message: `mock failure ${c.fail_status}`, type: 'api_error', code: null },
          }),
        ),
      };
    }
    const model = String(call.body.model);
    const id = `mock-${(++this.seq).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const prompt = promptTokens(call.body);
    const words = answerWords(c.chunks);
    if (call.op === 'embeddings') {
      const input = call.body.input;
      const inputs = Array.isArray(input) ? input : [input];
      const dims =
        typeof call.body.dimensions === 'number' && call.body.dimensions > 0
          ? Math.min(call.body.dimensions, 4096)
          : EMBED_DIM;
      const base64 = call.body.encoding_format === 'base64';
      const data = inputs.map((v, i) => {
        const e = embed(String(v), dims);
        return { object: 'embedding', index: i, embedding: base64 ? toBase64(e) : e };
      });
      return json({ object: 'list', data, model, usage: { prompt_tokens: prompt, total_tokens: prompt } });
    }
    const forced = forcedTool(call.op, call.body);
    if (forced) return this.toolAnswer(call, id, created, model, prompt, forced);
    const structured = call.op === 'chat' ? structuredText(call.body) : undefined;
    if (structured !== undefined) {
      words.length = 0;
      words.push(structured);
    }
    const completion = words.length;
    if (call.op === 'messages') {
      if (!call.stream)
        return json({
          id: `msg_${id}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: words.join('') }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: prompt, output_tokens: completion },
        });
      const events: string[] = [
        sse('message_start', {
          type: 'message_start',
          message: {
            id: `msg_${id}`,
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: prompt, output_tokens: 0 },
          },
        }),
        sse('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }),
      ];
      for (const w of words)
        events.push(
          sse('content_block_delta', {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text: w },
          }),
        );
      events.push(
        sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
        sse('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: completion },
        }),
        sse('message_stop', { type: 'message_stop' }),
      );
      return { status: 200, headers: {}, body: this.emit(events, call) };
    }
    const chat = call.op === 'chat';
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    if (!call.stream) {
      const text = words.join('');
      return chat
        ? json({
            id: `chatcmpl-${id}`,
            object: 'chat.completion',
            created,
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
          })
        : json({
            id: `cmpl-${id}`,
            object: 'text_completion',
            created,
            model,
            choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
            usage,
          });
    }
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const events: string[] = [];
    const wantUsage =
      (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = `{"id":"${chat ? 'chatcmpl' : 'cmpl'}-${id}","object":"${object}","created":${created},"model":${JSON.stringify(model)},`;
    for (let i = 0; i < words.length; i++) {
      const choice = chat
        ? {
            index: 0,
            delta: i === 0 ? { role: 'assistant', content: words[i] } : { content: words[i] },
            logprobs: null,
            finish_reason: null,
          }
        : { index: 0, text: words[i], logprobs: null, finish_reason: null };
      events.push(
        `data: ${base}"choices":[${JSON.stringify(choice)}]${wantUsage ? ',"usage":null' : ''}}\n\n`,
      );
    }
    const fin = chat
      ? { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }
      : { index: 0, text: '', logprobs: null, finish_reason: 'stop' };
    events.push(`data: ${base}"choices":[${JSON.stringify(fin)}]${wantUsage ? ',"usage":null' : ''}}\n\n`);
    if (wantUsage) events.push(`data: ${base}"choices":[],"usage":${JSON.stringify(usage)}}\n\n`);
    events.push('data: [DONE]\n\n');
    return { status: 200, headers: {}, body: this.emit(events, call) };
  }

  /** A forced tool choice: one call with arguments valid for the tool's schema, in the operation's shape. */
  private toolAnswer(
    call: UpstreamCall,
    id: string,
    created: number,
    model: string,
    prompt: number,
    tool: { name: string; schema: unknown },
  ): UpstreamResponse {
    const args = JSON.stringify(sampleFor(tool.schema) ?? {});
    const callId = `call_${id}`;
    const completion = Math.max(1, Math.ceil(args.length / 4));
    if (call.op === 'messages') {
      const block = { type: 'tool_use', id: `toolu_${id}`, name: tool.name, input: JSON.parse(args) };
      const usage = { input_tokens: prompt, output_tokens: completion };
      if (!call.stream)
        return json({
          id: `msg_${id}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [block],
          stop_reason: 'tool_use',
          stop_sequence: null,
          usage,
        });
      return {
        status: 200,
        headers: {},
        body: this.emit(
          [
            sse('message_start', {
              type: 'message_start',
              message: {
                id: `msg_${id}`,
                type: 'message',
                role: 'assistant',
                model,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { input_tokens: prompt, output_tokens: 0 },
              },
            }),
            sse('content_block_start', {
              type: 'content_block_start',
              index: 0,
              content_block: { ...block, input: {} },
            }),
            sse('content_block_delta', {
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'input_json_delta', partial_json: args },
            }),
            sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
            sse('message_delta', {
              type: 'message_delta',
              delta: { stop_reason: 'tool_use', stop_sequence: null },
              usage: { output_tokens: completion },
            }),
            sse('message_stop', { type: 'message_stop' }),
          ],
          call,
        ),
      };
    }
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const tc = { id: callId, type: 'function', function: { name: tool.name, arguments: args } };
    if (!call.stream)
      return json({
        id: `chatcmpl-${id}`,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: null, tool_calls: [tc], refusal: null },
            logprobs: null,
            finish_reason: 'tool_calls',
          },
        ],
        usage,
      });
    const base = { id: `chatcmpl-${id}`, object: 'chat.completion.chunk', created, model };
    const wantUsage =
      (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const events = [
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, ...tc, function: { name: tool.name, arguments: '' } }] }, finish_reason: null }] })}\n\n`,
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: null }] })}\n\n`,
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\n`,
    ];
    if (wantUsage) events.push(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    events.push('data: [DONE]\n\n');
    return { status: 200, headers: {}, body: this.emit(events, call) };
  }

  private emit(events: string[], call: UpstreamCall): AsyncIterable<Buffer> {
    const interval = this.cfg.chunk_interval_ms;
    if (interval <= 0) return one(Buffer.from(events.join('')));
    return paced(events, interval, call);
  }
}

async function* one(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function* paced(events: string[], interval: number, call: UpstreamCall): AsyncGenerator<Buffer> {
  for (let i = 0; i < events.length; i++) {
    if (i > 0) await delay(interval, call);
    yield Buffer.from(events[i]!);
  }
}

function json(v: unknown): UpstreamResponse {
  return { status: 200, headers: {}, body: Buffer.from(JSON.stringify(v)) };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

const WORDS = ['This ', 'is ', 'a ', 'mock ', 'response ', 'from ', 'DeepIntShield. '];
function answerWords(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[i % WORDS.length]!);
  return out;
}

/** Rough token estimate (4 characters a token) over the request's text. */
function promptTokens(body: Record<string, unknown>): number {
  let chars = 0;
  const add = (v: unknown): void => {
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) for (const x of v) add(x);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('content' in o) add(o.content);
      else if ('text' in o) add(o.text);
    }
  };
  add(body.messages);
  add(body.prompt);
  add(body.input);
  add(body.system);
  return Math.max(1, Math.ceil(chars / 4));
}

function toBase64(v: number[]): string {
  const f = new Float32Array(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function embed(s: string, dims = EMBED_DIM): number[] {
  const v = new Array<number>(dims).fill(0);
  for (let i = 0; i < s.length; i++) v[i % dims]! += s.charCodeAt(i) / 1000;
  if (s.length === 0) v[0] = 1;
  const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0)) || 1;
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

function delay(ms: number, call: UpstreamCall): Promise<void> {
  return new Promise((resolve, reject) => {
    if (call.signal.aborted) return reject(abortErr(call.signal));
    const t = setTimeout(() => {
      call.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortErr(call.signal));
    };
    call.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Never answers: ends with a timeout after the request's timeout, or when aborted. */
async function hang(call: UpstreamCall): Promise<never> {
  await delay(call.timeoutMs, call);
  throw new UpstreamError('timeout', 'upstream request timed out');
}

function abortErr(_signal: Cancel): UpstreamError {
  return new UpstreamError('aborted', 'request aborted');
}

type Obj = Record<string, unknown>;

/** The tool a request forces (OpenAI `required`/named, Anthropic `any`/`tool`), with its schema. */
function forcedTool(op: MockOp, body: Obj): { name: string; schema: unknown } | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Obj[]) : [];
  if (tools.length === 0) return undefined;
  const tc = body.tool_choice as Obj | string | undefined;
  const list = tools.map((t) =>
    op === 'messages'
      ? { name: String(t?.name ?? ''), schema: t?.input_schema }
      : {
          name: String((t?.function as Obj | undefined)?.name ?? ''),
          schema: (t?.function as Obj | undefined)?.parameters,
        },
  );
  if (op === 'messages') {
    if (tc && typeof tc === 'object' && tc.type === 'tool')
      return list.find((t) => t.name === tc.name) ?? list[0];
    if (tc && typeof tc === 'object' && tc.type === 'any') return list[0];
    return undefined;
  }
  if (tc === 'required') return list[0];
  if (tc && typeof tc === 'object') {
    const name = (tc.function as Obj | undefined)?.name;
    return list.find((t) => t.name === name) ?? list[0];
  }
  return undefined;
}

/** JSON text for response_format json_schema / json_object, else undefined. */
function structuredText(body: Obj): string | undefined {
  const rf = body.response_format as Obj | undefined;
  if (!rf || typeof rf !== 'object') return undefined;
  if (rf.type === 'json_schema')
    return JSON.stringify(sampleFor((rf.json_schema as Obj | undefined)?.schema ?? {}));
  if (rf.type === 'json_object')
    return JSON.stringify({ answer: 'This is a mock response from DeepIntShield.' });
  return undefined;
}
