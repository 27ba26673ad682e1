import { HttpError } from '../../server/errors.js';
import type {
  CanonicalOp,
  CanonicalResponse,
  CanonicalUsage,
  FinishReason,
  StreamEvent,
  WireFormat,
} from '../canonical.js';
import {
  decodeBatchEmbedBody,
  decodeCountTokensBody,
  decodeEmbedBody,
  decodeGenerateBody,
  maxOutputOf,
} from './gemini-request.js';
import { OpenAIPassThrough } from './openai-usage.js';
import type {
  InboundAdapter,
  InboundInput,
  InboundTarget,
  PassThroughStream,
  StreamEncoder,
} from './types.js';
import { fallbacksOf, isObj, type Obj } from './validate.js';

/**
 * Gemini-format inbound: POST /genai/{v1beta|v1}/models/{provider}/{model}:{method}.
 * The model reference comes from the path, never the body.
 */

const VERSIONS = new Set(['v1beta', 'v1']);

export function geminiModelRef(input: InboundInput): string {
  const { version = '', provider = '', model = '' } = input.params;
  if (!VERSIONS.has(version))
    throw new HttpError(
      404,
      `API version "${version.slice(0, 40)}" not found (v1beta or v1)`,
      'not_found_error',
      'not_found',
    );
  return `${provider}/${model}`;
}

function target(input: InboundInput, stream: boolean): InboundTarget {
  const t: InboundTarget = { model: geminiModelRef(input), stream, fallbacks: fallbacksOf(input.body) };
  const max = maxOutputOf(input.body);
  if (max !== undefined) t.maxTokens = max;
  return t;
}

const FINISH: Record<FinishReason, string> = {
  stop: 'STOP',
  length: 'MAX_TOKENS',
  tool_calls: 'STOP',
  content_filter: 'SAFETY',
  error: 'OTHER',
};
const GEMINI_FINISH = new Set([
  'STOP',
  'MAX_TOKENS',
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'OTHER',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'MALFORMED_FUNCTION_CALL',
]);

function finishOf(reason: FinishReason, native: string | undefined): string {
  return native && GEMINI_FINISH.has(native) ? native : FINISH[reason];
}

function usageMetadata(u: CanonicalUsage | undefined): Obj {
  const prompt = u?.inputTokens ?? 0;
  const out = u?.outputTokens ?? 0;
  const thoughts = u?.reasoningTokens ?? 0;
  const m: Obj = {
    promptTokenCount: prompt,
    candidatesTokenCount: out - thoughts,
    totalTokenCount: prompt + out,
  };
  if (thoughts) m.thoughtsTokenCount = thoughts;
  if (u?.cachedInputTokens) m.cachedContentTokenCount = u.cachedInputTokens;
  return m;
}

function argsOf(s: string): Obj {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

function encodeGenerate(res: CanonicalResponse, clientModel: string): Obj {
  if (res.op !== 'chat') return {};
  return {
    candidates: res.choices.map((c) => {
      const parts: Obj[] = [];
      for (const p of c.message.content)
        if (p.type === 'text' && p.text) parts.push({ text: p.text });
        else if (p.type === 'reasoning' && p.text) parts.push({ text: p.text, thought: true });
      for (const t of c.message.toolCalls ?? [])
        parts.push({ functionCall: { id: t.id, name: t.name, args: argsOf(t.arguments) } });
      if (parts.length === 0) parts.push({ text: '' });
      return {
        content: { role: 'model', parts },
        finishReason: finishOf(c.finishReason, c.nativeFinishReason),
        index: c.index,
      };
    }),
    usageMetadata: usageMetadata(res.usage),
    modelVersion: clientModel,
    responseId: res.id,
  };
}

/** HTTP status → google.rpc canonical code name, as Google's own APIs pair them. */
const GRPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  402: 'RESOURCE_EXHAUSTED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'UNIMPLEMENTED',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/**
 * Google's error shape (its `code` is the HTTP status), carrying the contract's OpenAI fields `type`
 * and `param` as well, and the offending field as a BadRequest field violation.
 */
export function geminiErrorBody(err: HttpError): Obj {
  const error: Obj = {
    code: err.status,
    message: err.message,
    status: GRPC_STATUS[err.status] ?? (err.status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'),
    type: err.type,
    param: err.param ?? null,
  };
  if (err.param)
    error.details = [
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field: err.param, description: err.message }],
      },
    ];
  return { error };
}

const sse = (j: unknown) => `data: ${JSON.stringify(j)}\r\n\r\n`;

/** Canonical events → streamGenerateContent?alt=sse: one GenerateContentResponse per event. */
export class GeminiStreamEncoder implements StreamEncoder {
  private done = false;
  private id = '';
  private usage: CanonicalUsage | undefined;
  private readonly finish = new Map<number, string>();
  /** Tool calls are sent whole, as Gemini sends them: arguments gathered until the choice finishes. */
  private readonly calls = new Map<number, { id: string; name: string; args: string }[]>();

  constructor(private readonly model: string) {}

  private chunk(choice: number, parts: Obj[], finishReason?: string, withUsage = false): string {
    const cand: Obj = { content: { role: 'model', parts }, index: choice };
    if (finishReason) cand.finishReason = finishReason;
    const j: Obj = { candidates: [cand], modelVersion: this.model, responseId: this.id };
    if (withUsage) j.usageMetadata = usageMetadata(this.usage);
    return sse(j);
  }

  private flushCalls(choice: number): Obj[] {
    const cs = this.calls.get(choice) ?? [];
    this.calls.delete(choice);
    return cs.map((c) => ({ functionCall: { id: c.id, name: c.name, args: argsOf(c.args) } }));
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const e of events) {
      if (this.done) break;
      switch (e.type) {
        case 'start':
          this.id = e.id;
          if (e.usage) this.usage = e.usage;
          break;
        case 'text':
          if (e.text) out += this.chunk(e.choice, [{ text: e.text }]);
          break;
        case 'reasoning':
          if (e.text) out += this.chunk(e.choice, [{ text: e.text, thought: true }]);
          break;
        case 'tool_call_start': {
          const cs = this.calls.get(e.choice) ?? [];
          cs[e.index] = { id: e.id, name: e.name, args: '' };
          this.calls.set(e.choice, cs);
          break;
        }
        case 'tool_call_delta': {
          const c = this.calls.get(e.choice)?.[e.index];
          if (c && c.args.length < 4 * 1024 * 1024) c.args += e.arguments;
          break;
        }
        case 'finish':
          this.finish.set(e.choice, finishOf(e.reason, e.nativeReason));
          break;
        case 'usage':
          this.usage = e.usage;
          break;
        case 'error':
          out += this.errorText(502, e.message);
          break;
        case 'end':
          out += this.end();
          break;
      }
    }
    return out;
  }

  private end(): string {
    this.done = true;
    const choices = new Set([0, ...this.finish.keys(), ...this.calls.keys()]);
    let out = '';
    for (const choice of [...choices].sort((a, b) => a - b)) {
      const parts = this.flushCalls(choice);
      out += this.chunk(
        choice,
        parts.length ? parts : [{ text: '' }],
        this.finish.get(choice) ?? 'STOP',
        choice === Math.max(...choices),
      );
    }
    return out;
  }

  private errorText(code: number, message: string): string {
    this.done = true;
    return sse(geminiErrorBody(new HttpError(code, message, 'upstream_error', 'upstream_error')));
  }

  error(err: HttpError): string {
    if (this.done) return '';
    return this.errorText(err.status, err.message);
  }
}

const USAGE_RE =
  /"promptTokenCount"\s*:\s*(\d+)[\s\S]*?"candidatesTokenCount"\s*:\s*(\d+)(?:[\s\S]*?"thoughtsTokenCount"\s*:\s*(\d+))?/g;

/** The last usageMetadata in Gemini JSON or SSE bytes, without a full parse. */
export function geminiUsageOf(buf: Buffer | string): CanonicalUsage | undefined {
  const s = typeof buf === 'string' ? buf : buf.toString('utf8');
  let last: CanonicalUsage | undefined;
  for (const m of s.matchAll(USAGE_RE))
    last = { inputTokens: Number(m[1]), outputTokens: Number(m[2]) + Number(m[3] ?? 0) };
  return last;
}

/** Gemini → Gemini streams: bytes forwarded at event boundaries, usageMetadata read on the way. */
class GeminiPassThrough implements PassThroughStream {
  private readonly inner = new OpenAIPassThrough(false);
  usage: CanonicalUsage | undefined;

  get outputChars(): number {
    return this.inner.outputChars;
  }

  private seen(b: Buffer | undefined): Buffer | undefined {
    if (b) this.usage = geminiUsageOf(b) ?? this.usage;
    return b;
  }

  push(chunk: Buffer): Buffer | undefined {
    return this.seen(this.inner.push(chunk));
  }

  flush(): Buffer | undefined {
    return this.seen(this.inner.flush());
  }
}

function withoutGatewayFields(b: Obj): Obj {
  const out: Obj = { ...b };
  delete out.fallbacks;
  return out;
}

function adapter(
  format: WireFormat,
  op: CanonicalOp,
  stream: boolean,
  decode: InboundAdapter['decode'],
  encode: InboundAdapter['encodeResponse'],
): InboundAdapter {
  return {
    format,
    op,
    target: (input) => target(input, stream),
    decode,
    passThroughBody(input, model) {
      decode(input, model);
      const out = withoutGatewayFields(input.body);
      if (out.model !== undefined) out.model = `models/${model}`;
      return out;
    },
    encodeResponse: encode,
    streamEncoder: (clientModel) => new GeminiStreamEncoder(clientModel),
    errorBody: geminiErrorBody,
    usageOfJson: (body) => geminiUsageOf(body),
    passThroughStream: () => new GeminiPassThrough(),
  };
}

export const geminiGenerateInbound = adapter(
  'gemini.generate',
  'chat',
  false,
  (input, model) => decodeGenerateBody(input.body, model, false),
  encodeGenerate,
);

export const geminiStreamGenerateInbound = adapter(
  'gemini.generate',
  'chat',
  true,
  (input, model) => decodeGenerateBody(input.body, model, true),
  encodeGenerate,
);

export const geminiCountTokensInbound = adapter(
  'gemini.count_tokens',
  'count_tokens',
  false,
  (input, model) => ({ op: 'count_tokens', model, chat: decodeCountTokensBody(input.body, model) }),
  (res) => ({ totalTokens: res.op === 'count_tokens' ? res.inputTokens : 0 }),
);

export const geminiEmbedInbound = adapter(
  'gemini.embed',
  'embeddings',
  false,
  (input, model) => decodeEmbedBody(input.body, model),
  (res) => ({ embedding: { values: res.op === 'embeddings' ? (res.vectors[0] ?? []) : [] } }),
);

/** batchEmbedContents: always through the canonical model (no provider takes it as is). */
export const geminiBatchEmbedInbound = adapter(
  'gemini.batch_embed',
  'embeddings',
  false,
  (input, model) => decodeBatchEmbedBody(input.body, model),
  (res) => ({
    embeddings: res.op === 'embeddings' ? res.vectors.map((values) => ({ values })) : [],
  }),
);

/** The gateway's OpenAI-shape model list → Gemini's ListModels shape ("models/provider/model"). */
export function geminiListBody(openaiList: string): string {
  let data: unknown[] = [];
  try {
    const j = JSON.parse(openaiList) as { data?: unknown };
    if (Array.isArray(j.data)) data = j.data;
  } catch {
    data = [];
  }
  const models = data.flatMap((m) =>
    isObj(m) && typeof m.id === 'string'
      ? [
          {
            name: `models/${m.id}`,
            displayName: m.id,
            supportedGenerationMethods: [
              'generateContent',
              'streamGenerateContent',
              'countTokens',
              'embedContent',
            ],
          },
        ]
      : [],
  );
  return JSON.stringify({ models });
}
