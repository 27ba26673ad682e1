/**
 * A client speaking OpenAI chat completions, an upstream speaking Anthropic
 * Messages: request OpenAI → Anthropic, response and stream Anthropic → OpenAI.
 */
import { HttpError } from '../../server/errors.js';
import { sseData } from './sse.js';

type Obj = Record<string, unknown>;

const DEFAULT_MAX_TOKENS = 4096;

export function chatRequestToMessages(body: Obj, model: string): Obj {
  const system: string[] = [];
  const messages: Obj[] = [];
  const push = (role: 'user' | 'assistant', blocks: Obj[]) => {
    const last = messages[messages.length - 1];
    // Anthropic wants alternating roles: merge consecutive same-role turns.
    if (last && last.role === role) (last.content as Obj[]).push(...blocks);
    else messages.push({ role, content: blocks });
  };
  const msgs = body.messages as Obj[];
  for (const m of msgs) {
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      system.push(textOf(m.content));
    } else if (role === 'user') {
      push('user', contentBlocks(m.content));
    } else if (role === 'assistant') {
      const blocks = m.content == null ? [] : contentBlocks(m.content);
      for (const tc of (m.tool_calls as Obj[] | undefined) ?? []) {
        const fn = tc.function as Obj;
        blocks.push({ type: 'tool_use', id: tc.id, name: fn.name, input: safeParse(fn.arguments as string) });
      }
      if (blocks.length) push('assistant', blocks);
    } else if (role === 'tool') {
      push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) }]);
    } else {
      throw new HttpError(
        400,
        `messages: unsupported role ${JSON.stringify(role)}`,
        'invalid_request_error',
        'invalid_value',
      );
    }
  }
  const out: Obj = {
    model,
    messages,
    max_tokens:
      (body.max_completion_tokens as number | undefined) ??
      (body.max_tokens as number | undefined) ??
      DEFAULT_MAX_TOKENS,
  };
  if (system.length) out.system = system.join('\n\n');
  if (body.temperature != null) out.temperature = Math.min(1, body.temperature as number);
  if (body.top_p != null) out.top_p = body.top_p;
  if (body.stop != null) out.stop_sequences = Array.isArray(body.stop) ? body.stop : [body.stop];
  if (body.stream === true) out.stream = true;
  if (Array.isArray(body.tools)) {
    out.tools = (body.tools as Obj[]).map((t) => {
      const fn = t.function as Obj;
      return {
        name: fn.name,
        description: fn.description,
        input_schema: fn.parameters ?? { type: 'object', properties: {} },
      };
    });
  }
  const tc = body.tool_choice;
  if (tc === 'auto') out.tool_choice = { type: 'auto' };
  else if (tc === 'required') out.tool_choice = { type: 'any' };
  else if (tc && typeof tc === 'object')
    out.tool_choice = { type: 'tool', name: ((tc as Obj).function as Obj)?.name };
  if (tc === 'none') delete out.tools;
  const user = body.user;
  if (typeof user === 'string') out.metadata = { user_id: user };
  return out;
}

function textOf(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return c
      .map((p) =>
        p && typeof p === 'object' && typeof (p as Obj).text === 'string' ? ((p as Obj).text as string) : '',
      )
      .join('');
  return '';
}

function contentBlocks(c: unknown): Obj[] {
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  if (!Array.isArray(c)) return [];
  const out: Obj[] = [];
  for (const p of c as Obj[]) {
    if (p.type === 'text') out.push({ type: 'text', text: p.text });
    else if (p.type === 'image_url') {
      const url = String((p.image_url as Obj | undefined)?.url ?? '');
      const m = /^data:([^;]+);base64,(.*)$/s.exec(url);
      out.push(
        m
          ? { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } }
          : { type: 'image', source: { type: 'url', url } },
      );
    }
  }
  return out;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s || '{}');
  } catch {
    return {};
  }
}

const STOP: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  pause_turn: 'stop',
  refusal: 'content_filter',
};

export function finishReason(stop: unknown): string | null {
  return stop == null ? null : (STOP[String(stop)] ?? 'stop');
}

export function messagesResponseToChat(r: Obj, clientModel: string): Obj {
  let text = '';
  const toolCalls: Obj[] = [];
  for (const b of (r.content as Obj[] | undefined) ?? []) {
    if (b.type === 'text') text += b.text as string;
    else if (b.type === 'tool_use')
      toolCalls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
  }
  const u = (r.usage as Obj | undefined) ?? {};
  const prompt =
    Number(u.input_tokens ?? 0) +
    Number(u.cache_read_input_tokens ?? 0) +
    Number(u.cache_creation_input_tokens ?? 0);
  const completion = Number(u.output_tokens ?? 0);
  const message: Obj = { role: 'assistant', content: text || (toolCalls.length ? null : ''), refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  return {
    id: `chatcmpl-${String(r.id ?? '').replace(/^msg_/, '')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: clientModel,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(r.stop_reason) ?? 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

/** Anthropic SSE events in, OpenAI chat.completion.chunk SSE text out. */
export class AnthropicToOpenAIStream {
  private id = 'chatcmpl-';
  private readonly created = Math.floor(Date.now() / 1000);
  private prompt = 0;
  private completion = 0;
  private finish: string | null = null;
  /** Anthropic content block index → OpenAI tool_calls index. */
  private readonly toolIndex = new Map<number, number>();
  private done = false;

  constructor(
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {}

  get usage(): { prompt: number; completion: number } {
    return { prompt: this.prompt, completion: this.completion };
  }

  private chunk(delta: Obj, finish: string | null = null): string {
    const c: Obj = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.includeUsage) c.usage = null;
    return sseData(c);
  }

  /** Translates one Anthropic event; returns the OpenAI SSE text to send (may be empty). */
  event(type: string | undefined, data: string): string {
    if (!data) return '';
    const e = JSON.parse(data) as Obj;
    switch (e.type ?? type) {
      case 'message_start': {
        const m = e.message as Obj;
        this.id = `chatcmpl-${String(m.id ?? '').replace(/^msg_/, '')}`;
        const u = (m.usage as Obj | undefined) ?? {};
        this.prompt =
          Number(u.input_tokens ?? 0) +
          Number(u.cache_read_input_tokens ?? 0) +
          Number(u.cache_creation_input_tokens ?? 0);
        this.completion = Number(u.output_tokens ?? 0);
        return this.chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const b = e.content_block as Obj;
        if (b.type !== 'tool_use') return '';
        const idx = this.toolIndex.size;
        this.toolIndex.set(e.index as number, idx);
        return this.chunk({
          tool_calls: [{ index: idx, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }],
        });
      }
      case 'content_block_delta': {
        const d = e.delta as Obj;
        if (d.type === 'text_delta') return this.chunk({ content: d.text });
        if (d.type === 'input_json_delta') {
          const idx = this.toolIndex.get(e.index as number) ?? 0;
          return this.chunk({ tool_calls: [{ index: idx, function: { arguments: d.partial_json } }] });
        }
        return '';
      }
      case 'message_delta': {
        const d = e.delta as Obj;
        this.finish = finishReason(d.stop_reason);
        const u = e.usage as Obj | undefined;
        if (u?.output_tokens != null) this.completion = Number(u.output_tokens);
        if (u?.input_tokens != null) this.prompt = Number(u.input_tokens);
        return '';
      }
      case 'message_stop':
        return this.end();
      case 'error': {
        const err = (e.error as Obj | undefined) ?? {};
        this.done = true;
        return sseData({
          error: {
            message: String(err.message ?? 'upstream error'),
            type: 'upstream_error',
            code: err.type ?? null,
          },
        });
      }
      default:
        return '';
    }
  }

  /** Final chunks: finish_reason, usage (when asked), [DONE]. Idempotent. */
  end(): string {
    if (this.done) return '';
    this.done = true;
    let out = this.chunk({}, this.finish ?? 'stop');
    if (this.includeUsage)
      out += sseData({
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.created,
        model: this.model,
        choices: [],
        usage: {
          prompt_tokens: this.prompt,
          completion_tokens: this.completion,
          total_tokens: this.prompt + this.completion,
        },
      });
    return `${out}data: [DONE]\n\n`;
  }
}
