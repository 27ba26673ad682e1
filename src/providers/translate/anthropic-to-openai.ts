/**
 * A client speaking Anthropic Messages, an upstream speaking OpenAI chat
 * completions: request Anthropic → OpenAI, response and stream OpenAI → Anthropic.
 */
import { HttpError } from '../../server/errors.js';
import { sseEvent } from './sse.js';

type Obj = Record<string, unknown>;

export function messagesRequestToChat(body: Obj, model: string): Obj {
  const messages: Obj[] = [];
  const sys = body.system;
  if (typeof sys === 'string' && sys) messages.push({ role: 'system', content: sys });
  else if (Array.isArray(sys)) {
    const text = (sys as Obj[]).map((b) => (typeof b.text === 'string' ? b.text : '')).join('\n\n');
    if (text) messages.push({ role: 'system', content: text });
  }
  for (const m of body.messages as Obj[]) {
    const role = m.role;
    if (role !== 'user' && role !== 'assistant')
      throw new HttpError(
        400,
        `messages: unsupported role ${JSON.stringify(role)}`,
        'invalid_request_error',
        'invalid_value',
      );
    if (typeof m.content === 'string') {
      messages.push({ role, content: m.content });
      continue;
    }
    const parts: Obj[] = [];
    const toolCalls: Obj[] = [];
    for (const b of (m.content as Obj[] | undefined) ?? []) {
      if (b.type === 'text') parts.push({ type: 'text', text: b.text });
      else if (b.type === 'image') {
        const src = (b.source as Obj | undefined) ?? {};
        const url =
          src.type === 'base64' ? `data:${src.media_type};base64,${src.data}` : String(src.url ?? '');
        parts.push({ type: 'image_url', image_url: { url } });
      } else if (b.type === 'tool_use') {
        toolCalls.push({
          id: b.id,
          type: 'function',
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        });
      } else if (b.type === 'tool_result') {
        const c = b.content;
        const text =
          typeof c === 'string'
            ? c
            : Array.isArray(c)
              ? (c as Obj[]).map((x) => (typeof x.text === 'string' ? x.text : '')).join('')
              : '';
        messages.push({ role: 'tool', tool_call_id: b.tool_use_id, content: text });
      }
    }
    if (role === 'assistant') {
      if (parts.length || toolCalls.length) {
        const msg: Obj = { role, content: parts.length ? parts.map((p) => p.text ?? '').join('') : null };
        if (toolCalls.length) msg.tool_calls = toolCalls;
        messages.push(msg);
      }
    } else if (parts.length) {
      messages.push({
        role,
        content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('') : parts,
      });
    }
  }
  const out: Obj = { model, messages };
  if (body.max_tokens != null) out.max_tokens = body.max_tokens;
  if (body.temperature != null) out.temperature = body.temperature;
  if (body.top_p != null) out.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences)) out.stop = body.stop_sequences;
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  if (Array.isArray(body.tools)) {
    out.tools = (body.tools as Obj[]).map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.input_schema },
    }));
  }
  const tc = body.tool_choice as Obj | undefined;
  if (tc?.type === 'auto') out.tool_choice = 'auto';
  else if (tc?.type === 'any') out.tool_choice = 'required';
  else if (tc?.type === 'none') out.tool_choice = 'none';
  else if (tc?.type === 'tool') out.tool_choice = { type: 'function', function: { name: tc.name } };
  const meta = body.metadata as Obj | undefined;
  if (typeof meta?.user_id === 'string') out.user = meta.user_id;
  return out;
}

const STOP: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

function stopReason(f: unknown): string {
  return STOP[String(f)] ?? 'end_turn';
}

export function chatResponseToMessages(r: Obj, clientModel: string): Obj {
  const choice = ((r.choices as Obj[] | undefined) ?? [])[0] ?? {};
  const msg = (choice.message as Obj | undefined) ?? {};
  const content: Obj[] = [];
  if (typeof msg.content === 'string' && msg.content) content.push({ type: 'text', text: msg.content });
  for (const tc of (msg.tool_calls as Obj[] | undefined) ?? []) {
    const fn = tc.function as Obj;
    let input: unknown = {};
    try {
      input = JSON.parse((fn.arguments as string) || '{}');
    } catch {
      /* keep {} */
    }
    content.push({ type: 'tool_use', id: tc.id, name: fn.name, input });
  }
  const u = (r.usage as Obj | undefined) ?? {};
  return {
    id: `msg_${String(r.id ?? '').replace(/^chatcmpl-/, '')}`,
    type: 'message',
    role: 'assistant',
    model: clientModel,
    content,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: { input_tokens: Number(u.prompt_tokens ?? 0), output_tokens: Number(u.completion_tokens ?? 0) },
  };
}

/** OpenAI chat.completion.chunk SSE in, Anthropic Messages SSE events out. */
export class OpenAIToAnthropicStream {
  private started = false;
  private done = false;
  /** Index of the open Anthropic content block, -1 when none. */
  private open = -1;
  private openKind: 'text' | 'tool' | undefined;
  private next = 0;
  private readonly tools = new Map<number, number>();
  private finish: unknown = null;
  private prompt = 0;
  private completion = 0;

  constructor(private readonly model: string) {}

  get usage(): { prompt: number; completion: number } {
    return { prompt: this.prompt, completion: this.completion };
  }

  private start(id: string): string {
    this.started = true;
    return sseEvent('message_start', {
      type: 'message_start',
      message: {
        id: `msg_${id.replace(/^chatcmpl-/, '')}`,
        type: 'message',
        role: 'assistant',
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private closeBlock(): string {
    if (this.open < 0) return '';
    const out = sseEvent('content_block_stop', { type: 'content_block_stop', index: this.open });
    this.open = -1;
    this.openKind = undefined;
    return out;
  }

  /** Translates one OpenAI SSE `data:` payload. */
  data(data: string): string {
    if (data === '[DONE]') return this.end();
    const c = JSON.parse(data) as Obj;
    let out = '';
    if (c.error) {
      this.done = true;
      const err = c.error as Obj;
      return sseEvent('error', {
        type: 'error',
        error: { type: 'api_error', message: String(err.message ?? 'upstream error') },
      });
    }
    if (!this.started) out += this.start(String(c.id ?? ''));
    const u = c.usage as Obj | null | undefined;
    if (u) {
      this.prompt = Number(u.prompt_tokens ?? 0);
      this.completion = Number(u.completion_tokens ?? 0);
    }
    for (const ch of (c.choices as Obj[] | undefined) ?? []) {
      const d = (ch.delta as Obj | undefined) ?? {};
      if (typeof d.content === 'string' && d.content) {
        if (this.openKind !== 'text') {
          out += this.closeBlock();
          this.open = this.next++;
          this.openKind = 'text';
          out += sseEvent('content_block_start', {
            type: 'content_block_start',
            index: this.open,
            content_block: { type: 'text', text: '' },
          });
        }
        out += sseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: this.open,
          delta: { type: 'text_delta', text: d.content },
        });
      }
      for (const tc of (d.tool_calls as Obj[] | undefined) ?? []) {
        const ti = Number(tc.index ?? 0);
        const fn = (tc.function as Obj | undefined) ?? {};
        if (!this.tools.has(ti)) {
          out += this.closeBlock();
          this.open = this.next++;
          this.openKind = 'tool';
          this.tools.set(ti, this.open);
          out += sseEvent('content_block_start', {
            type: 'content_block_start',
            index: this.open,
            content_block: { type: 'tool_use', id: tc.id, name: fn.name, input: {} },
          });
        }
        if (typeof fn.arguments === 'string' && fn.arguments)
          out += sseEvent('content_block_delta', {
            type: 'content_block_delta',
            index: this.tools.get(ti),
            delta: { type: 'input_json_delta', partial_json: fn.arguments },
          });
      }
      if (ch.finish_reason != null) this.finish = ch.finish_reason;
    }
    return out;
  }

  end(): string {
    if (this.done) return '';
    this.done = true;
    let out = this.started ? '' : this.start('');
    out += this.closeBlock();
    out += sseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason(this.finish ?? 'stop'), stop_sequence: null },
      usage: { input_tokens: this.prompt, output_tokens: this.completion },
    });
    out += sseEvent('message_stop', { type: 'message_stop' });
    return out;
  }
}
