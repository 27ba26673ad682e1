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
interface TextAnswer {
  kind: 'text';
  words: string[];
}
/** What the mock answers, before it is put in the operation's shape. */
type Answer = TextAnswer | { kind: 'tool'; name: string; args: string };

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
    const structured = !forced && call.op === 'chat' ? structuredText(call.body) : undefined;
    const answer: Answer = forced
      ? { kind: 'tool', name: forced.name, args: JSON.stringify(sampleFor(forced.schema) ?? {}) }
      : { kind: 'text', words: structured !== undefined ? [structured] : words };
    const completion =
      answer.kind === 'text' ? answer.words.length : Math.max(1, Math.ceil(answer.args.length / 4));
    if (call.op === 'messages') return this.messages(call, id, model, prompt, completion, answer);
    return this.openai(call, id, created, model, prompt, completion, answer);
  }

  /** Anthropic Messages, JSON or SSE: one content block, text or tool_use. */
  private messages(
    call: UpstreamCall,
    id: string,
    model: string,
    prompt: number,
    completion: number,
    a: Answer,
  ): UpstreamResponse {
    const block =
      a.kind === 'text'
        ? { type: 'text', text: a.words.join('') }
        : { type: 'tool_use', id: `toolu_${id}`, name: a.name, input: JSON.parse(a.args) as unknown };
    const stop = a.kind === 'text' ? 'end_turn' : 'tool_use';
    if (!call.stream)
      return json({
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [block],
        stop_reason: stop,
        stop_sequence: null,
        usage: { input_tokens: prompt, output_tokens: completion },
      });
    const deltas =
      a.kind === 'text'
        ? a.words.map((text) => ({ type: 'text_delta', text }))
        : [{ type: 'input_json_delta', partial_json: a.args }];
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
        content_block: a.kind === 'text' ? { type: 'text', text: '' } : { ...block, input: {} },
      }),
    ];
    for (const delta of deltas)
      events.push(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta }));
    events.push(
      sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stop, stop_sequence: null },
        usage: { output_tokens: completion },
      }),
      sse('message_stop', { type: 'message_stop' }),
    );
    return { status: 200, headers: {}, body: this.emit(events, call) };
  }

  /** OpenAI chat or completions, JSON or SSE (a tool call is always chat-shaped). */
  private openai(
    call: UpstreamCall,
    id: string,
    created: number,
    model: string,
    prompt: number,
    completion: number,
    a: Answer,
  ): UpstreamResponse {
    const chat = call.op === 'chat' || a.kind === 'tool';
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const finish = a.kind === 'text' ? 'stop' : 'tool_calls';
    const tc =
      a.kind === 'tool'
        ? { id: `call_${id}`, type: 'function', function: { name: a.name, arguments: a.args } }
        : undefined;
    if (!call.stream) {
      const text = a.kind === 'text' ? a.words.join('') : '';
      return chat
        ? json({
            id: `chatcmpl-${id}`,
            object: 'chat.completion',
            created,
            model,
            choices: [
              {
                index: 0,
                message: tc
                  ? { role: 'assistant', content: null, tool_calls: [tc], refusal: null }
                  : { role: 'assistant', content: text, refusal: null },
                logprobs: null,
                finish_reason: finish,
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
    const wantUsage =
      (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = `{"id":"${chat ? 'chatcmpl' : 'cmpl'}-${id}","object":"${object}","created":${created},"model":${JSON.stringify(model)},`;
    const tail = wantUsage ? ',"usage":null}\n\n' : '}\n\n';
    const choices: unknown[] = tc
      ? [
          {
            index: 0,
            delta: {
              role: 'assistant',
              content: null,
              tool_calls: [{ index: 0, ...tc, function: { name: tc.function.name, arguments: '' } }],
            },
            logprobs: null,
            finish_reason: null,
          },
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: tc.function.arguments } }] },
            logprobs: null,
            finish_reason: null,
          },
        ]
      : (a as TextAnswer).words.map((w, i) =>
          chat
            ? {
                index: 0,
                delta: i === 0 ? { role: 'assistant', content: w } : { content: w },
                logprobs: null,
                finish_reason: null,
              }
            : { index: 0, text: w, logprobs: null, finish_reason: null },
        );
    choices.push(
      chat
        ? { index: 0, delta: {}, logprobs: null, finish_reason: finish }
        : { index: 0, text: '', logprobs: null, finish_reason: 'stop' },
    );
    const events = choices.map((c) => `data: ${base}"choices":[${JSON.stringify(c)}]${tail}`);
    if (wantUsage) events.push(`data: ${base}"choices":[],"usage":${JSON.stringify(usage)}}\n\n`);
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
