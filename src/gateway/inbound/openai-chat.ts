import type { HttpError } from '../../server/errors.js';
import type {
  CanonicalResponse,
  ChatRequest,
  ContentPart,
  Message,
  ResponseFormat,
  StreamEvent,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../canonical.js';
import { OpenAIPassThrough, openaiUsageJson, usageOfOpenAIJson } from './openai-usage.js';
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
  optStop,
  optString,
  reqArray,
  streamOf,
} from './validate.js';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export function chatTarget(input: InboundInput): InboundTarget {
  const b = input.body;
  const maxTokens = optInt(b, 'max_completion_tokens', 1) ?? optInt(b, 'max_tokens', 1);
  return { model: modelOf(b), stream: streamOf(b), fallbacks: fallbacksOf(b), maxTokens };
}

/** OpenAI chat completions body → canonical chat (validated; 400 naming the field). */
export function decodeChatBody(b: Obj, model: string): ChatRequest {
  const rawMessages = reqArray(b, 'messages');
  if (rawMessages.length === 0) throw badField('messages', 'must not be empty', rawMessages);
  const messages = rawMessages.map((m, i) => decodeMessage(m, `messages[${i}]`));
  const req: ChatRequest = { op: 'chat', model, messages, stream: streamOf(b) };
  const maxTokens = optInt(b, 'max_completion_tokens', 1) ?? optInt(b, 'max_tokens', 1);
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const t = optNumber(b, 'temperature');
  if (t !== undefined) req.temperature = t;
  const p = optNumber(b, 'top_p');
  if (p !== undefined) req.topP = p;
  const stop = optStop(b, 'stop');
  if (stop) req.stop = stop;
  const seed = optInt(b, 'seed', Number.MIN_SAFE_INTEGER);
  if (seed !== undefined) req.seed = seed;
  const pp = optNumber(b, 'presence_penalty');
  if (pp !== undefined) req.presencePenalty = pp;
  const fp = optNumber(b, 'frequency_penalty');
  if (fp !== undefined) req.frequencyPenalty = fp;
  const n = optInt(b, 'n', 1);
  if (n !== undefined) req.n = n;
  const lp = optBool(b, 'logprobs');
  if (lp !== undefined) req.logprobs = lp;
  const tlp = optInt(b, 'top_logprobs', 0);
  if (tlp !== undefined) req.topLogprobs = tlp;
  const tools = decodeTools(b.tools);
  if (tools) req.tools = tools;
  const tc = decodeToolChoice(b.tool_choice);
  if (tc !== undefined) req.toolChoice = tc;
  const ptc = optBool(b, 'parallel_tool_calls');
  if (ptc !== undefined) req.parallelToolCalls = ptc;
  const rf = decodeResponseFormat(b.response_format, 'response_format');
  if (rf) req.responseFormat = rf;
  const effort = optString(b, 'reasoning_effort');
  if (effort !== undefined) {
    if (!['minimal', 'low', 'medium', 'high'].includes(effort))
      throw badField('reasoning_effort', 'must be minimal, low, medium or high', effort);
    req.reasoningEffort = effort as ChatRequest['reasoningEffort'];
  }
  const user = optString(b, 'user');
  if (user !== undefined) req.user = user;
  optObject(b, 'stream_options');
  const md = optObject(b, 'metadata');
  if (md) {
    const out: Record<string, string> = {};
    for (const k in md) if (typeof md[k] === 'string') out[k] = md[k] as string;
    req.metadata = out;
  }
  return req;
}

function decodeMessage(m: unknown, at: string): Message {
  if (!isObj(m)) throw badField(at, 'must be an object', m);
  const role = m.role;
  if (typeof role !== 'string' || !ROLES.has(role))
    throw badField(`${at}.role`, 'must be one of system, developer, user, assistant, tool', role);
  const content = decodeContent(m.content, `${at}.content`, role === 'assistant' || role === 'tool');
  const name = optString(m, 'name', `${at}.name`);
  if (role === 'system' || role === 'developer')
    return { role: 'system', content, ...(name ? { name } : {}) };
  if (role === 'tool' || role === 'function') {
    const id = optString(m, 'tool_call_id', `${at}.tool_call_id`);
    if (role === 'tool' && id === undefined)
      throw badField(`${at}.tool_call_id`, 'must be a string', m.tool_call_id);
    return { role: 'tool', content, toolCallId: id ?? name ?? '', ...(name ? { toolName: name } : {}) };
  }
  const out: Message = { role: role as 'user' | 'assistant', content };
  if (name) out.name = name;
  if (role === 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null) {
    if (!Array.isArray(m.tool_calls)) throw badField(`${at}.tool_calls`, 'must be an array', m.tool_calls);
    out.toolCalls = m.tool_calls.map((c, i) => decodeToolCall(c, `${at}.tool_calls[${i}]`));
  }
  return out;
}

function decodeToolCall(c: unknown, at: string): ToolCall {
  if (!isObj(c)) throw badField(at, 'must be an object', c);
  const fn = c.function;
  if (!isObj(fn)) throw badField(`${at}.function`, 'must be an object', fn);
  if (typeof fn.name !== 'string') throw badField(`${at}.function.name`, 'must be a string', fn.name);
  const args = fn.arguments;
  if (args !== undefined && typeof args !== 'string')
    throw badField(`${at}.function.arguments`, 'must be a string of JSON', args);
  return { id: typeof c.id === 'string' ? c.id : '', name: fn.name, arguments: args ?? '{}' };
}

export function decodeContent(c: unknown, at: string, nullable: boolean): ContentPart[] {
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  if (c === null || c === undefined) {
    if (nullable) return [];
    throw badField(at, 'must be a string or an array of content parts', c);
  }
  if (!Array.isArray(c)) throw badField(at, 'must be a string or an array of content parts', c);
  return c.map((p, i) => decodePart(p, `${at}[${i}]`));
}

function decodePart(p: unknown, at: string): ContentPart {
  if (!isObj(p)) throw badField(at, 'must be a content part object', p);
  switch (p.type) {
    case 'text':
    case 'input_text':
    case 'output_text':
      if (typeof p.text !== 'string') throw badField(`${at}.text`, 'must be a string', p.text);
      return { type: 'text', text: p.text };
    case 'refusal':
      return { type: 'text', text: typeof p.refusal === 'string' ? p.refusal : '' };
    case 'image_url': {
      const iu = p.image_url;
      const url = typeof iu === 'string' ? iu : isObj(iu) ? iu.url : undefined;
      if (typeof url !== 'string') throw badField(`${at}.image_url.url`, 'must be a string', url);
      const detail = isObj(iu) && typeof iu.detail === 'string' ? iu.detail : undefined;
      return imageFromUrl(url, detail);
    }
    case 'file': {
      const f = p.file;
      if (!isObj(f)) throw badField(`${at}.file`, 'must be an object', f);
      const data = typeof f.file_data === 'string' ? f.file_data : undefined;
      const m = data ? /^data:([^;,]+);base64,(.*)$/s.exec(data) : null;
      return {
        type: 'file',
        ...(m ? { data: m[2], mediaType: m[1] } : data ? { data } : {}),
        ...(typeof f.filename === 'string' ? { filename: f.filename } : {}),
      };
    }
    default:
      throw badField(`${at}.type`, 'must be text, image_url or file', p.type);
  }
}

export function imageFromUrl(url: string, detail?: string): ContentPart {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  const d: { detail?: 'low' | 'high' | 'auto' } =
    detail === 'low' || detail === 'high' || detail === 'auto' ? { detail } : {};
  return m ? { type: 'image', data: m[2], mediaType: m[1], ...d } : { type: 'image', url, ...d };
}

export function decodeTools(v: unknown, param = 'tools'): ToolDefinition[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badField(param, 'must be an array', v);
  return v.map((t, i) => {
    const at = `${param}[${i}]`;
    if (!isObj(t)) throw badField(at, 'must be an object', t);
    // Chat nests under `function`; Responses puts the fields on the tool itself.
    const fn = isObj(t.function)
      ? t.function
      : t.type === 'function' && typeof t.name === 'string'
        ? t
        : undefined;
    if (!fn) throw badField(`${at}.function`, 'must be an object with a name', t.function);
    if (typeof fn.name !== 'string' || fn.name === '')
      throw badField(`${at}.function.name`, 'must be a non-empty string', fn.name);
    const params = fn.parameters;
    if (params !== undefined && params !== null && !isObj(params))
      throw badField(`${at}.function.parameters`, 'must be a JSON schema object', params);
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      parameters: (params as Obj | undefined) ?? { type: 'object', properties: {} },
      ...(typeof fn.strict === 'boolean' ? { strict: fn.strict } : {}),
    };
  });
}

export function decodeToolChoice(v: unknown, param = 'tool_choice'): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'auto' || v === 'none' || v === 'required') return v;
  if (isObj(v)) {
    const name = isObj(v.function) ? v.function.name : v.name;
    if (typeof name === 'string' && name) return { name };
  }
  throw badField(
    param,
    'must be "auto", "none", "required" or {"type":"function","function":{"name":...}}',
    v,
  );
}

export function decodeResponseFormat(v: unknown, param: string): ResponseFormat | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw badField(param, 'must be an object', v);
  if (v.type === 'text' || v.type === 'json_object') return { type: v.type };
  if (v.type === 'json_schema') {
    // Chat nests under json_schema; Responses' text.format has the fields inline.
    const js = isObj(v.json_schema) ? v.json_schema : v;
    if (!isObj(js.schema))
      throw badField(`${param}.json_schema.schema`, 'must be a JSON schema object', js.schema);
    return {
      type: 'json_schema',
      name: typeof js.name === 'string' ? js.name : 'response',
      schema: js.schema,
      ...(typeof js.strict === 'boolean' ? { strict: js.strict } : {}),
      ...(typeof js.description === 'string' ? { description: js.description } : {}),
    };
  }
  throw badField(`${param}.type`, 'must be text, json_object or json_schema', v.type);
}

/** Canonical chat answer → OpenAI chat.completion JSON. */
export function encodeChatResponse(res: CanonicalResponse, clientModel: string): Obj {
  if (res.op !== 'chat') return {};
  return {
    id: res.id.startsWith('chatcmpl') ? res.id : `chatcmpl-${res.id}`,
    object: 'chat.completion',
    created: res.created,
    model: clientModel,
    choices: res.choices.map((c) => {
      let text = '';
      let reasoning = '';
      for (const p of c.message.content)
        if (p.type === 'text') text += p.text;
        else if (p.type === 'reasoning') reasoning += p.text;
      const message: Obj = {
        role: 'assistant',
        content: text === '' && c.message.toolCalls?.length ? null : text,
        refusal: null,
      };
      if (reasoning) message.reasoning_content = reasoning;
      if (c.message.toolCalls?.length)
        message.tool_calls = c.message.toolCalls.map((t) => ({
          id: t.id,
          type: 'function',
          function: { name: t.name, arguments: t.arguments },
        }));
      return { index: c.index, message, logprobs: null, finish_reason: c.finishReason };
    }),
    usage: openaiUsageJson(res.usage),
  };
}

/** Canonical events → OpenAI chat.completion.chunk SSE. */
export class ChatStreamEncoder implements StreamEncoder {
  private id = 'chatcmpl-gateway';
  private created = Math.floor(Date.now() / 1000);
  private usage: Obj | undefined;
  private finished = false;
  private readonly roleSent = new Set<number>();

  constructor(
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {}

  private chunk(choice: number, delta: Obj, finish: string | null = null): string {
    if (!this.roleSent.has(choice)) {
      this.roleSent.add(choice);
      delta = { role: 'assistant', ...delta };
    }
    const c: Obj = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: choice, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.includeUsage) c.usage = null;
    return `data: ${JSON.stringify(c)}\n\n`;
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const e of events) {
      if (this.finished) break;
      switch (e.type) {
        case 'start':
          this.id = e.id.startsWith('chatcmpl') ? e.id : `chatcmpl-${e.id}`;
          this.created = e.created;
          out += this.chunk(0, { content: '' });
          break;
        case 'text':
          out += this.chunk(e.choice, { content: e.text });
          break;
        case 'reasoning':
          if (e.text) out += this.chunk(e.choice, { reasoning_content: e.text });
          break;
        case 'tool_call_start':
          out += this.chunk(e.choice, {
            tool_calls: [
              { index: e.index, id: e.id, type: 'function', function: { name: e.name, arguments: '' } },
            ],
          });
          break;
        case 'tool_call_delta':
          out += this.chunk(e.choice, {
            tool_calls: [{ index: e.index, function: { arguments: e.arguments } }],
          });
          break;
        case 'finish':
          out += this.chunk(e.choice, {}, e.reason);
          break;
        case 'usage':
          this.usage = openaiUsageJson(e.usage);
          break;
        case 'error':
          out += this.errorText(e.message, e.code ?? 'upstream_error');
          break;
        case 'end':
          out += this.end();
          break;
      }
    }
    return out;
  }

  private end(): string {
    this.finished = true;
    let out = '';
    if (this.includeUsage && this.usage)
      out += `data: ${JSON.stringify({
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.created,
        model: this.model,
        choices: [],
        usage: this.usage,
      })}\n\n`;
    return `${out}data: [DONE]\n\n`;
  }

  /** The error event ends the stream: no [DONE] after it, which clients read as a success. */
  private errorText(message: string, code: string): string {
    this.finished = true;
    return `data: ${JSON.stringify({ error: { message, type: 'upstream_error', param: null, code } })}\n\n`;
  }

  error(err: HttpError): string {
    if (this.finished) return '';
    return this.errorText(err.message, err.code ?? 'upstream_error');
  }
}

function wantsUsage(b: Obj): boolean {
  const so = b.stream_options;
  return isObj(so) && so.include_usage === true;
}

export const openaiChatInbound: InboundAdapter = {
  format: 'openai.chat',
  op: 'chat',
  target: chatTarget,
  decode: (input, model) => decodeChatBody(input.body, model),
  passThroughBody(input, model) {
    const b = input.body;
    decodeChatBody(b, model);
    const out: Obj = { ...b, model };
    delete out.fallbacks;
    // Usage comes with the stream only when asked for; the gateway always needs it.
    if (b.stream === true)
      out.stream_options = { ...(b.stream_options as Obj | undefined), include_usage: true };
    return out;
  },
  encodeResponse: encodeChatResponse,
  streamEncoder: (clientModel, input) => new ChatStreamEncoder(clientModel, wantsUsage(input.body)),
  usageOfJson: usageOfOpenAIJson,
  passThroughStream: (input) => new OpenAIPassThrough(!wantsUsage(input.body)),
};
