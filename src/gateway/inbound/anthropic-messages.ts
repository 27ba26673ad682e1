import type { HttpError } from '../../server/errors.js';
import type {
  CanonicalResponse,
  ChatRequest,
  ContentPart,
  FinishReason,
  Message,
  StreamEvent,
  ToolCall,
  ToolChoice,
} from '../canonical.js';
import { OpenAIPassThrough, usageOfOpenAIJson } from './openai-usage.js';
import type { InboundAdapter, InboundInput, InboundTarget, StreamEncoder } from './types.js';
import {
  badField,
  fallbacksOf,
  isObj,
  modelOf,
  type Obj,
  optInt,
  optNumber,
  optObject,
  optStop,
  reqArray,
  streamOf,
} from './validate.js';

export function messagesTarget(input: InboundInput): InboundTarget {
  const b = input.body;
  return {
    model: modelOf(b),
    stream: streamOf(b),
    fallbacks: fallbacksOf(b),
    maxTokens: optInt(b, 'max_tokens', 1),
  };
}

/** Anthropic Messages body → canonical chat (validated). */
export function decodeMessagesBody(b: Obj, model: string, requireMaxTokens = true): ChatRequest {
  const raw = reqArray(b, 'messages');
  if (raw.length === 0) throw badField('messages', 'must not be empty', raw);
  const messages: Message[] = [];
  const sys = b.system;
  if (typeof sys === 'string') {
    if (sys) messages.push({ role: 'system', content: [{ type: 'text', text: sys }] });
  } else if (Array.isArray(sys)) {
    const parts = sys.map((p, i) => {
      if (!isObj(p) || typeof p.text !== 'string')
        throw badField(`system[${i}].text`, 'must be a string', isObj(p) ? p.text : p);
      return { type: 'text' as const, text: p.text };
    });
    if (parts.length) messages.push({ role: 'system', content: parts });
  } else if (sys !== undefined && sys !== null)
    throw badField('system', 'must be a string or an array of text blocks', sys);
  for (let i = 0; i < raw.length; i++) decodeTurn(raw[i], `messages[${i}]`, messages);
  const maxTokens = optInt(b, 'max_tokens', 1);
  if (maxTokens === undefined && requireMaxTokens)
    throw badField('max_tokens', 'must be a positive integer', b.max_tokens);
  const req: ChatRequest = { op: 'chat', model, messages, stream: streamOf(b) };
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const t = optNumber(b, 'temperature');
  if (t !== undefined) req.temperature = t;
  const p = optNumber(b, 'top_p');
  if (p !== undefined) req.topP = p;
  const k = optInt(b, 'top_k', 0);
  if (k !== undefined) req.topK = k;
  const stop = optStop(b, 'stop_sequences');
  if (stop) req.stop = stop;
  if (b.tools !== undefined && b.tools !== null) {
    const tools = reqArray(b, 'tools');
    req.tools = tools.map((x, i) => {
      if (!isObj(x)) throw badField(`tools[${i}]`, 'must be an object', x);
      if (typeof x.name !== 'string' || !x.name)
        throw badField(`tools[${i}].name`, 'must be a non-empty string', x.name);
      const schema = x.input_schema;
      if (schema !== undefined && !isObj(schema))
        throw badField(`tools[${i}].input_schema`, 'must be an object', schema);
      return {
        name: x.name,
        ...(typeof x.description === 'string' ? { description: x.description } : {}),
        parameters: (schema as Obj | undefined) ?? { type: 'object', properties: {} },
      };
    });
  }
  const tc = decodeToolChoice(b.tool_choice);
  if (tc) {
    req.toolChoice = tc.choice;
    if (tc.disableParallel) req.parallelToolCalls = false;
  }
  const thinking = optObject(b, 'thinking');
  if (thinking && thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number')
    req.thinkingBudget = thinking.budget_tokens;
  const md = optObject(b, 'metadata');
  if (md && typeof md.user_id === 'string') req.user = md.user_id;
  return req;
}

function decodeToolChoice(v: unknown): { choice: ToolChoice; disableParallel: boolean } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw badField('tool_choice', 'must be an object', v);
  const disableParallel = v.disable_parallel_tool_use === true;
  switch (v.type) {
    case 'auto':
      return { choice: 'auto', disableParallel };
    case 'any':
      return { choice: 'required', disableParallel };
    case 'none':
      return { choice: 'none', disableParallel };
    case 'tool':
      if (typeof v.name !== 'string' || !v.name)
        throw badField('tool_choice.name', 'must be a string', v.name);
      return { choice: { name: v.name }, disableParallel };
    default:
      throw badField('tool_choice.type', 'must be auto, any, none or tool', v.type);
  }
}

function decodeTurn(m: unknown, at: string, out: Message[]): void {
  if (!isObj(m)) throw badField(at, 'must be an object', m);
  const role = m.role;
  if (role !== 'user' && role !== 'assistant')
    throw badField(`${at}.role`, 'must be user or assistant', role);
  const c = m.content;
  if (typeof c === 'string') {
    out.push({ role, content: [{ type: 'text', text: c }] });
    return;
  }
  if (!Array.isArray(c)) throw badField(`${at}.content`, 'must be a string or an array of content blocks', c);
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  const results: Message[] = [];
  for (let i = 0; i < c.length; i++) {
    const b = c[i];
    const bat = `${at}.content[${i}]`;
    if (!isObj(b)) throw badField(bat, 'must be a content block object', b);
    switch (b.type) {
      case 'text':
        if (typeof b.text !== 'string') throw badField(`${bat}.text`, 'must be a string', b.text);
        content.push({ type: 'text', text: b.text });
        break;
      case 'image':
      case 'document': {
        const src = b.source;
        if (!isObj(src)) throw badField(`${bat}.source`, 'must be an object', src);
        const kind = b.type === 'image' ? 'image' : 'file';
        if (src.type === 'base64') {
          if (typeof src.data !== 'string')
            throw badField(`${bat}.source.data`, 'must be a base64 string', src.data);
          content.push({
            type: kind,
            data: src.data,
            mediaType: typeof src.media_type === 'string' ? src.media_type : undefined,
          });
        } else if (src.type === 'url') {
          if (typeof src.url !== 'string') throw badField(`${bat}.source.url`, 'must be a string', src.url);
          content.push({ type: kind, url: src.url });
        } else if (src.type === 'text' && typeof src.data === 'string') {
          content.push({ type: 'text', text: src.data });
        } else throw badField(`${bat}.source.type`, 'must be base64 or url', src.type);
        break;
      }
      case 'thinking':
        if (typeof b.thinking === 'string')
          content.push({
            type: 'reasoning',
            text: b.thinking,
            ...(typeof b.signature === 'string' ? { signature: b.signature } : {}),
          });
        break;
      case 'redacted_thinking':
        break;
      case 'tool_use':
        if (typeof b.name !== 'string') throw badField(`${bat}.name`, 'must be a string', b.name);
        if (b.input !== undefined && !isObj(b.input))
          throw badField(`${bat}.input`, 'must be an object', b.input);
        toolCalls.push({
          id: typeof b.id === 'string' ? b.id : '',
          name: b.name,
          arguments: JSON.stringify(b.input ?? {}),
        });
        break;
      case 'tool_result': {
        if (typeof b.tool_use_id !== 'string')
          throw badField(`${bat}.tool_use_id`, 'must be a string', b.tool_use_id);
        const rc = b.content;
        let parts: ContentPart[];
        if (typeof rc === 'string') parts = [{ type: 'text', text: rc }];
        else if (rc === undefined || rc === null) parts = [];
        else if (Array.isArray(rc))
          parts = rc.flatMap((x, j) => {
            if (!isObj(x)) throw badField(`${bat}.content[${j}]`, 'must be a content block object', x);
            return typeof x.text === 'string' ? [{ type: 'text' as const, text: x.text }] : [];
          });
        else throw badField(`${bat}.content`, 'must be a string or an array', rc);
        results.push({
          role: 'tool',
          content: parts,
          toolCallId: b.tool_use_id,
          ...(b.is_error === true ? { isError: true } : {}),
        });
        break;
      }
      default:
        throw badField(`${bat}.type`, 'must be text, image, document, tool_use or tool_result', b.type);
    }
  }
  // Tool results answer the previous assistant turn: they come first, as tool messages.
  out.push(...results);
  if (content.length || toolCalls.length || results.length === 0)
    out.push({ role, content, ...(toolCalls.length ? { toolCalls } : {}) });
}

const STOP: Record<FinishReason, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
  error: 'end_turn',
};

const ANTHROPIC_STOPS = new Set([
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
]);

function stopReason(reason: FinishReason, native: string | undefined): string {
  return native && ANTHROPIC_STOPS.has(native) ? native : STOP[reason];
}

function msgId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`;
}

/** Canonical chat answer → Anthropic message JSON. */
export function encodeMessagesResponse(res: CanonicalResponse, clientModel: string): Obj {
  if (res.op !== 'chat') return {};
  const c = res.choices[0];
  const content: Obj[] = [];
  for (const p of c?.message.content ?? [])
    if (p.type === 'text' && p.text) content.push({ type: 'text', text: p.text });
    else if (p.type === 'reasoning' && p.signature)
      content.push({ type: 'thinking', thinking: p.text, signature: p.signature });
  for (const t of c?.message.toolCalls ?? [])
    content.push({
      type: 'tool_use',
      id: t.id || `toolu_${content.length}`,
      name: t.name,
      input: parseArgs(t.arguments),
    });
  return {
    id: msgId(res.id),
    type: 'message',
    role: 'assistant',
    model: clientModel,
    content,
    stop_reason: stopReason(c?.finishReason ?? 'stop', c?.nativeFinishReason),
    stop_sequence: null,
    usage: { input_tokens: res.usage?.inputTokens ?? 0, output_tokens: res.usage?.outputTokens ?? 0 },
  };
}

function parseArgs(s: string): Obj {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

function ev(event: string, data: Obj): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

/** Canonical events → Anthropic Messages SSE (choice 0 only: Messages has no `n`). */
export class MessagesStreamEncoder implements StreamEncoder {
  private started = false;
  private done = false;
  private open = -1;
  private openKind: 'text' | 'tool' | 'thinking' | undefined;
  private next = 0;
  private readonly tools = new Map<number, number>();
  private input = 0;
  private output = 0;
  private stop: string | undefined;

  constructor(private readonly model: string) {}

  private start(id: string): string {
    this.started = true;
    return ev('message_start', {
      message: {
        id: msgId(id),
        type: 'message',
        role: 'assistant',
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.input, output_tokens: 0 },
      },
    });
  }

  private closeBlock(): string {
    if (this.open < 0) return '';
    const out = ev('content_block_stop', { index: this.open });
    this.open = -1;
    this.openKind = undefined;
    return out;
  }

  private openBlock(kind: 'text' | 'tool' | 'thinking', block: Obj): string {
    let out = this.closeBlock();
    this.open = this.next++;
    this.openKind = kind;
    out += ev('content_block_start', { index: this.open, content_block: block });
    return out;
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const e of events) {
      if (this.done) break;
      if (!this.started && e.type !== 'start' && e.type !== 'usage' && e.type !== 'error')
        out += this.start('gateway');
      switch (e.type) {
        case 'start':
          if (e.usage) this.input = e.usage.inputTokens;
          if (!this.started) out += this.start(e.id);
          break;
        case 'text':
          if (e.choice !== 0 || !e.text) break;
          if (this.openKind !== 'text') out += this.openBlock('text', { type: 'text', text: '' });
          out += ev('content_block_delta', { index: this.open, delta: { type: 'text_delta', text: e.text } });
          break;
        case 'reasoning':
          if (e.choice !== 0) break;
          if (this.openKind !== 'thinking')
            out += this.openBlock('thinking', { type: 'thinking', thinking: '' });
          if (e.text)
            out += ev('content_block_delta', {
              index: this.open,
              delta: { type: 'thinking_delta', thinking: e.text },
            });
          if (e.signature)
            out += ev('content_block_delta', {
              index: this.open,
              delta: { type: 'signature_delta', signature: e.signature },
            });
          break;
        case 'tool_call_start':
          if (e.choice !== 0) break;
          out += this.openBlock('tool', { type: 'tool_use', id: e.id, name: e.name, input: {} });
          this.tools.set(e.index, this.open);
          break;
        case 'tool_call_delta': {
          const idx = this.tools.get(e.index);
          if (e.choice !== 0 || idx === undefined) break;
          out += ev('content_block_delta', {
            index: idx,
            delta: { type: 'input_json_delta', partial_json: e.arguments },
          });
          break;
        }
        case 'finish':
          if (e.choice === 0) this.stop = stopReason(e.reason, e.nativeReason);
          break;
        case 'usage':
          this.input = e.usage.inputTokens;
          this.output = e.usage.outputTokens;
          break;
        case 'error':
          out += this.errorText(e.message, 'api_error');
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
    let out = this.started ? '' : this.start('gateway');
    out += this.closeBlock();
    out += ev('message_delta', {
      delta: { stop_reason: this.stop ?? 'end_turn', stop_sequence: null },
      usage: { input_tokens: this.input, output_tokens: this.output },
    });
    return `${out}${ev('message_stop', {})}`;
  }

  private errorText(message: string, type: string): string {
    this.done = true;
    return ev('error', { error: { type, message } });
  }

  error(err: HttpError): string {
    if (this.done) return '';
    return this.errorText(err.message, anthropicErrorType(err.status));
  }
}

/** HTTP status → Anthropic's error type names (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'billing_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 409) return 'conflict_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  if (status >= 400 && status < 500) return 'invalid_request_error';
  return 'api_error';
}

export const anthropicMessagesInbound: InboundAdapter = {
  format: 'anthropic.messages',
  op: 'chat',
  target: messagesTarget,
  decode: (input, model) => decodeMessagesBody(input.body, model),
  passThroughBody(input, model) {
    decodeMessagesBody(input.body, model);
    const out: Obj = { ...input.body, model };
    delete out.fallbacks;
    return out;
  },
  encodeResponse: encodeMessagesResponse,
  streamEncoder: (clientModel) => new MessagesStreamEncoder(clientModel),
  // Anthropic's shape, carrying the contract's OpenAI fields (param, code) as well: either parser reads it.
  errorBody: (err) => ({
    type: 'error',
    error: {
      type: anthropicErrorType(err.status),
      message: err.message,
      param: err.param ?? null,
      code: err.code ?? null,
    },
  }),
  usageOfJson: usageOfOpenAIJson,
  passThroughStream: () => new OpenAIPassThrough(false),
};

/** POST /anthropic/v1/messages/count_tokens: the same body without max_tokens. */
export const anthropicCountTokensInbound: InboundAdapter = {
  format: 'anthropic.count_tokens',
  op: 'count_tokens',
  target: (input) => ({ model: modelOf(input.body), stream: false, fallbacks: [] }),
  decode: (input, model) => ({
    op: 'count_tokens',
    model,
    chat: decodeMessagesBody(input.body, model, false),
  }),
  passThroughBody(input, model) {
    decodeMessagesBody(input.body, model, false);
    const out: Obj = { ...input.body, model };
    delete out.fallbacks;
    return out;
  },
  encodeResponse: (res) => ({ input_tokens: res.op === 'count_tokens' ? res.inputTokens : 0 }),
  streamEncoder: (clientModel) => new MessagesStreamEncoder(clientModel),
  errorBody: anthropicMessagesInbound.errorBody,
  usageOfJson: () => undefined,
  passThroughStream: () => new OpenAIPassThrough(false),
};
