import { randomBytes } from 'node:crypto';
import { HttpError } from '../../server/errors.js';
import type {
  CanonicalResponse,
  CanonicalUsage,
  ChatRequest,
  ContentPart,
  Message,
  StreamEvent,
} from '../canonical.js';
import { decodeResponseFormat, decodeToolChoice, decodeTools, imageFromUrl } from './openai-chat.js';
import { OpenAIPassThrough, usageOfOpenAIJson } from './openai-usage.js';
import type { InboundAdapter, InboundInput, InboundTarget, StreamEncoder } from './types.js';
import {
  badField,
  fallbacksOf,
  isObj,
  modelOf,
  type Obj,
  optBool,
  optInt,
  optNumber,
  optObject,
  optString,
  streamOf,
} from './validate.js';

/**
 * OpenAI Responses API (POST /v1/responses), stateless: every turn comes in
 * `input`; `previous_response_id` (server-side state) is refused with a 400.
 */
function target(input: InboundInput): InboundTarget {
  const b = input.body;
  if (b.previous_response_id !== undefined && b.previous_response_id !== null)
    throw new HttpError(
      400,
      'previous_response_id: the gateway is stateless; send the whole conversation in `input`',
      'invalid_request_error',
      'unsupported_parameter',
      {},
      'previous_response_id',
    );
  if (b.conversation !== undefined && b.conversation !== null)
    throw badField('conversation', 'is not supported (the gateway is stateless)', b.conversation);
  return {
    model: modelOf(b),
    stream: streamOf(b),
    fallbacks: fallbacksOf(b),
    maxTokens: optInt(b, 'max_output_tokens', 1),
  };
}

export function decodeResponsesBody(b: Obj, model: string): ChatRequest {
  target({ body: b } as InboundInput);
  const messages: Message[] = [];
  const instructions = optString(b, 'instructions');
  if (instructions) messages.push({ role: 'system', content: [{ type: 'text', text: instructions }] });
  const input = b.input;
  if (typeof input === 'string') messages.push({ role: 'user', content: [{ type: 'text', text: input }] });
  else if (Array.isArray(input)) {
    if (input.length === 0) throw badField('input', 'must not be empty', input);
    for (let i = 0; i < input.length; i++) decodeItem(input[i], `input[${i}]`, messages);
  } else throw badField('input', 'must be a string or an array of input items', input);
  const req: ChatRequest = { op: 'chat', model, messages, stream: streamOf(b) };
  const mt = optInt(b, 'max_output_tokens', 1);
  if (mt !== undefined) req.maxTokens = mt;
  const t = optNumber(b, 'temperature');
  if (t !== undefined) req.temperature = t;
  const tp = optNumber(b, 'top_p');
  if (tp !== undefined) req.topP = tp;
  const tlp = optInt(b, 'top_logprobs', 0);
  if (tlp !== undefined) req.topLogprobs = tlp;
  if (b.tools !== undefined && b.tools !== null) {
    if (!Array.isArray(b.tools)) throw badField('tools', 'must be an array', b.tools);
    // Built-in tools (web_search, file_search …) exist only on OpenAI's servers.
    b.tools.forEach((x, i) => {
      if (!isObj(x) || x.type !== 'function')
        throw badField(`tools[${i}].type`, 'only function tools are supported', isObj(x) ? x.type : x);
    });
    const tools = decodeTools(b.tools);
    if (tools?.length) req.tools = tools;
  }
  const tc = decodeToolChoice(b.tool_choice);
  if (tc !== undefined) req.toolChoice = tc;
  const ptc = optBool(b, 'parallel_tool_calls');
  if (ptc !== undefined) req.parallelToolCalls = ptc;
  const text = optObject(b, 'text');
  if (text) {
    const rf = decodeResponseFormat(text.format, 'text.format');
    if (rf) req.responseFormat = rf;
  }
  const reasoning = optObject(b, 'reasoning');
  if (
    reasoning &&
    typeof reasoning.effort === 'string' &&
    ['minimal', 'low', 'medium', 'high'].includes(reasoning.effort)
  )
    req.reasoningEffort = reasoning.effort as ChatRequest['reasoningEffort'];
  const user = optString(b, 'user');
  if (user !== undefined) req.user = user;
  return req;
}

function decodeItem(item: unknown, at: string, out: Message[]): void {
  if (!isObj(item)) throw badField(at, 'must be an input item object', item);
  const type = item.type ?? 'message';
  switch (type) {
    case 'message': {
      const role = item.role;
      if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer')
        throw badField(`${at}.role`, 'must be user, assistant, system or developer', role);
      const content = decodeParts(item.content, `${at}.content`);
      out.push({ role: role === 'developer' ? 'system' : role, content });
      return;
    }
    case 'function_call': {
      if (typeof item.name !== 'string') throw badField(`${at}.name`, 'must be a string', item.name);
      if (typeof item.call_id !== 'string') throw badField(`${at}.call_id`, 'must be a string', item.call_id);
      const args = item.arguments;
      if (args !== undefined && typeof args !== 'string')
        throw badField(`${at}.arguments`, 'must be a string of JSON', args);
      const call = { id: item.call_id, name: item.name, arguments: args ?? '{}' };
      const last = out[out.length - 1];
      // Consecutive calls belong to one assistant turn.
      if (last && last.role === 'assistant' && !textOf(last.content)) {
        last.toolCalls ??= [];
        last.toolCalls.push(call);
      } else out.push({ role: 'assistant', content: [], toolCalls: [call] });
      return;
    }
    case 'function_call_output': {
      if (typeof item.call_id !== 'string') throw badField(`${at}.call_id`, 'must be a string', item.call_id);
      const o = item.output;
      const text =
        typeof o === 'string'
          ? o
          : Array.isArray(o)
            ? textOf(decodeParts(o, `${at}.output`))
            : JSON.stringify(o ?? '');
      out.push({ role: 'tool', toolCallId: item.call_id, content: [{ type: 'text', text }] });
      return;
    }
    case 'reasoning':
      return;
    default:
      throw badField(`${at}.type`, 'must be message, function_call or function_call_output', type);
  }
}

function decodeParts(c: unknown, at: string): ContentPart[] {
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  if (!Array.isArray(c)) throw badField(at, 'must be a string or an array of content parts', c);
  return c.map((p, i) => {
    const pat = `${at}[${i}]`;
    if (!isObj(p)) throw badField(pat, 'must be a content part object', p);
    switch (p.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        if (typeof p.text !== 'string') throw badField(`${pat}.text`, 'must be a string', p.text);
        return { type: 'text', text: p.text } as ContentPart;
      case 'refusal':
        return { type: 'text', text: typeof p.refusal === 'string' ? p.refusal : '' } as ContentPart;
      case 'input_image': {
        if (typeof p.image_url !== 'string')
          throw badField(
            `${pat}.image_url`,
            'must be a URL string (file ids need OpenAI storage)',
            p.image_url,
          );
        return imageFromUrl(p.image_url, typeof p.detail === 'string' ? p.detail : undefined);
      }
      case 'input_file': {
        const data = typeof p.file_data === 'string' ? p.file_data : undefined;
        if (!data) throw badField(`${pat}.file_data`, 'must be a data: URL or base64 string', p.file_data);
        const m = /^data:([^;,]+);base64,(.*)$/s.exec(data);
        return {
          type: 'file',
          ...(m ? { data: m[2], mediaType: m[1] } : { data }),
          ...(typeof p.filename === 'string' ? { filename: p.filename } : {}),
        } as ContentPart;
      }
      default:
        throw badField(`${pat}.type`, 'must be input_text, input_image or input_file', p.type);
    }
  });
}

function textOf(parts: readonly ContentPart[]): string {
  let s = '';
  for (const p of parts) if (p.type === 'text') s += p.text;
  return s;
}

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

function usageJson(u: CanonicalUsage | undefined): Obj {
  const i = u?.inputTokens ?? 0;
  const o = u?.outputTokens ?? 0;
  return {
    input_tokens: i,
    input_tokens_details: { cached_tokens: u?.cachedInputTokens ?? 0 },
    output_tokens: o,
    output_tokens_details: { reasoning_tokens: u?.reasoningTokens ?? 0 },
    total_tokens: i + o,
  };
}

/** The response object's echo of the request's settings. */
function envelope(b: Obj, id: string, created: number, clientModel: string, status: string): Obj {
  return {
    id,
    object: 'response',
    created_at: created,
    status,
    error: null,
    incomplete_details: null,
    instructions: typeof b.instructions === 'string' ? b.instructions : null,
    max_output_tokens: typeof b.max_output_tokens === 'number' ? b.max_output_tokens : null,
    model: clientModel,
    output: [],
    parallel_tool_calls: b.parallel_tool_calls !== false,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: typeof b.temperature === 'number' ? b.temperature : 1,
    text: isObj(b.text) && isObj(b.text.format) ? { format: b.text.format } : { format: { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: Array.isArray(b.tools) ? b.tools : [],
    top_p: typeof b.top_p === 'number' ? b.top_p : 1,
    truncation: 'disabled',
    usage: null,
    user: typeof b.user === 'string' ? b.user : null,
    metadata: isObj(b.metadata) ? b.metadata : {},
  };
}

export function encodeResponsesResponse(
  res: CanonicalResponse,
  clientModel: string,
  input: InboundInput,
): Obj {
  if (res.op !== 'chat') return {};
  const c = res.choices[0];
  const output: Obj[] = [];
  const text = textOf(c?.message.content ?? []);
  if (text || !c?.message.toolCalls?.length)
    output.push({
      type: 'message',
      id: rid('msg'),
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    });
  for (const t of c?.message.toolCalls ?? [])
    output.push({
      type: 'function_call',
      id: rid('fc'),
      call_id: t.id || rid('call'),
      name: t.name,
      arguments: t.arguments,
      status: 'completed',
    });
  const incomplete = c?.finishReason === 'length';
  const out = envelope(
    input.body,
    rid('resp'),
    res.created,
    clientModel,
    incomplete ? 'incomplete' : 'completed',
  );
  out.output = output;
  out.usage = usageJson(res.usage);
  if (incomplete) out.incomplete_details = { reason: 'max_output_tokens' };
  return out;
}

interface OpenItem {
  outputIndex: number;
  id: string;
  kind: 'message' | 'function_call';
  text: string;
  callId?: string;
  name?: string;
}

/** Canonical events → Responses API SSE (`event:` names, `sequence_number`). */
class ResponsesStreamEncoder implements StreamEncoder {
  private seq = 0;
  private readonly id = rid('resp');
  private readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  private done = false;
  private message: OpenItem | undefined;
  private readonly tools = new Map<number, OpenItem>();
  private readonly items: Obj[] = [];
  private next = 0;
  private usage: CanonicalUsage | undefined;
  private finish: string | undefined;

  constructor(
    private readonly model: string,
    private readonly body: Obj,
  ) {}

  private ev(type: string, data: Obj): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.seq++, ...data })}\n\n`;
  }

  private start(): string {
    this.started = true;
    const r = envelope(this.body, this.id, this.created, this.model, 'in_progress');
    return this.ev('response.created', { response: r }) + this.ev('response.in_progress', { response: r });
  }

  private openMessage(): string {
    const m: OpenItem = { outputIndex: this.next++, id: rid('msg'), kind: 'message', text: '' };
    this.message = m;
    return (
      this.ev('response.output_item.added', {
        output_index: m.outputIndex,
        item: { type: 'message', id: m.id, status: 'in_progress', role: 'assistant', content: [] },
      }) +
      this.ev('response.content_part.added', {
        item_id: m.id,
        output_index: m.outputIndex,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      })
    );
  }

  private closeMessage(): string {
    const m = this.message;
    if (!m) return '';
    this.message = undefined;
    const part = { type: 'output_text', text: m.text, annotations: [], logprobs: [] };
    const item = { type: 'message', id: m.id, status: 'completed', role: 'assistant', content: [part] };
    this.items[m.outputIndex] = item;
    return (
      this.ev('response.output_text.done', {
        item_id: m.id,
        output_index: m.outputIndex,
        content_index: 0,
        text: m.text,
        logprobs: [],
      }) +
      this.ev('response.content_part.done', {
        item_id: m.id,
        output_index: m.outputIndex,
        content_index: 0,
        part,
      }) +
      this.ev('response.output_item.done', { output_index: m.outputIndex, item })
    );
  }

  private closeTools(): string {
    let out = '';
    for (const t of this.tools.values()) {
      const item = {
        type: 'function_call',
        id: t.id,
        call_id: t.callId,
        name: t.name,
        arguments: t.text,
        status: 'completed',
      };
      this.items[t.outputIndex] = item;
      out +=
        this.ev('response.function_call_arguments.done', {
          item_id: t.id,
          output_index: t.outputIndex,
          arguments: t.text,
        }) + this.ev('response.output_item.done', { output_index: t.outputIndex, item });
    }
    this.tools.clear();
    return out;
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const e of events) {
      if (this.done) break;
      if (!this.started && e.type !== 'error') out += this.start();
      switch (e.type) {
        case 'text':
          if (e.choice !== 0 || !e.text) break;
          if (!this.message) out += this.openMessage();
          this.message!.text += e.text;
          out += this.ev('response.output_text.delta', {
            item_id: this.message!.id,
            output_index: this.message!.outputIndex,
            content_index: 0,
            delta: e.text,
            logprobs: [],
          });
          break;
        case 'tool_call_start': {
          if (e.choice !== 0) break;
          out += this.closeMessage();
          const t: OpenItem = {
            outputIndex: this.next++,
            id: rid('fc'),
            kind: 'function_call',
            text: '',
            callId: e.id,
            name: e.name,
          };
          this.tools.set(e.index, t);
          out += this.ev('response.output_item.added', {
            output_index: t.outputIndex,
            item: {
              type: 'function_call',
              id: t.id,
              call_id: e.id,
              name: e.name,
              arguments: '',
              status: 'in_progress',
            },
          });
          break;
        }
        case 'tool_call_delta': {
          const t = this.tools.get(e.index);
          if (e.choice !== 0 || !t) break;
          t.text += e.arguments;
          out += this.ev('response.function_call_arguments.delta', {
            item_id: t.id,
            output_index: t.outputIndex,
            delta: e.arguments,
          });
          break;
        }
        case 'finish':
          if (e.choice === 0) this.finish = e.reason;
          break;
        case 'usage':
          this.usage = e.usage;
          break;
        case 'error':
          out += this.errorText(e.message, e.code ?? 'upstream_error');
          break;
        case 'end':
          out += this.end();
          break;
        default:
          break;
      }
    }
    return out;
  }

  private end(): string {
    this.done = true;
    let out = this.closeMessage() + this.closeTools();
    if (this.items.length === 0) {
      out += this.openMessage() + this.closeMessage();
    }
    const incomplete = this.finish === 'length';
    const r = envelope(this.body, this.id, this.created, this.model, incomplete ? 'incomplete' : 'completed');
    r.output = this.items.filter(Boolean);
    r.usage = usageJson(this.usage);
    if (incomplete) r.incomplete_details = { reason: 'max_output_tokens' };
    return out + this.ev(incomplete ? 'response.incomplete' : 'response.completed', { response: r });
  }

  private errorText(message: string, code: string): string {
    this.done = true;
    const r = envelope(this.body, this.id, this.created, this.model, 'failed');
    r.error = { code, message };
    return this.ev('error', { code, message, param: null }) + this.ev('response.failed', { response: r });
  }

  error(err: HttpError): string {
    return this.done ? '' : this.errorText(err.message, err.code ?? 'upstream_error');
  }
}

export const openaiResponsesInbound: InboundAdapter = {
  format: 'openai.responses',
  op: 'chat',
  target,
  decode: (input, model) => decodeResponsesBody(input.body, model),
  passThroughBody(input, model) {
    decodeResponsesBody(input.body, model);
    const out: Obj = { ...input.body, model, store: false };
    delete out.fallbacks;
    return out;
  },
  encodeResponse: encodeResponsesResponse,
  streamEncoder: (clientModel, input) => new ResponsesStreamEncoder(clientModel, input.body),
  usageOfJson: usageOfOpenAIJson,
  passThroughStream: () => new OpenAIPassThrough(false),
};
