import type { CanonicalOp, StreamEvent } from '../../gateway/canonical.js';
import { SseDecoder } from '../http/sse.js';
import type { StreamDecoder } from '../provider.js';
import { finishReasonOf, usageOf } from './response.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** OpenAI chat/completions chunk stream → canonical events. Malformed events end the stream with an `error`. */
export class OpenAIStreamDecoder implements StreamDecoder {
  private readonly sse: SseDecoder;
  private started = false;
  private ended = false;
  /** Per choice: tool-call index → seen. */
  private readonly tools = new Map<number, Set<number>>();

  constructor(
    private readonly op: CanonicalOp,
    private readonly model: string,
    maxEventBytes: number,
  ) {
    this.sse = new SseDecoder(maxEventBytes);
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.consume(this.sse.push(chunk));
  }

  end(): StreamEvent[] {
    const out = this.consume(this.sse.end());
    if (!this.ended) {
      this.ended = true;
      out.push({ type: 'end' });
    }
    return out;
  }

  private consume(events: readonly { event?: string; data: string }[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const e of events) {
      if (this.ended) break;
      const data = e.data.trim();
      if (data === '') continue;
      if (data === '[DONE]') {
        this.ended = true;
        out.push({ type: 'end' });
        break;
      }
      let j: unknown;
      try {
        j = JSON.parse(data);
      } catch {
        j = undefined;
      }
      if (!isObj(j)) {
        this.ended = true;
        out.push({
          type: 'error',
          message: 'upstream sent an invalid stream event',
          code: 'upstream_bad_response',
        });
        break;
      }
      if (isObj(j.error)) {
        this.ended = true;
        const msg = typeof j.error.message === 'string' ? j.error.message : 'upstream stream error';
        out.push({ type: 'error', message: msg, code: 'upstream_error' });
        break;
      }
      this.chunk(j, out);
    }
    return out;
  }

  private chunk(j: Obj, out: StreamEvent[]): void {
    if (!this.started) {
      this.started = true;
      out.push({
        type: 'start',
        id: typeof j.id === 'string' ? j.id : 'chatcmpl-upstream',
        model: typeof j.model === 'string' ? j.model : this.model,
        created: typeof j.created === 'number' ? j.created : Math.floor(Date.now() / 1000),
      });
    }
    const choices = j.choices;
    if (choices !== undefined && choices !== null && !Array.isArray(choices)) {
      this.ended = true;
      out.push({
        type: 'error',
        message: 'upstream sent an invalid stream event',
        code: 'upstream_bad_response',
      });
      return;
    }
    for (const c of Array.isArray(choices) ? choices : []) {
      if (!isObj(c)) continue;
      const choice = typeof c.index === 'number' ? c.index : 0;
      if (this.op === 'completions') {
        if (typeof c.text === 'string' && c.text) out.push({ type: 'text', choice, text: c.text });
      } else if (isObj(c.delta)) {
        const d = c.delta;
        const reasoning = d.reasoning_content ?? d.reasoning;
        if (typeof reasoning === 'string' && reasoning)
          out.push({ type: 'reasoning', choice, text: reasoning });
        if (typeof d.content === 'string' && d.content) out.push({ type: 'text', choice, text: d.content });
        if (Array.isArray(d.tool_calls)) this.toolDeltas(choice, d.tool_calls, out);
      }
      if (typeof c.finish_reason === 'string')
        out.push({
          type: 'finish',
          choice,
          reason: finishReasonOf(c.finish_reason),
          nativeReason: c.finish_reason,
        });
    }
    const usage = usageOf(j.usage);
    if (usage) out.push({ type: 'usage', usage });
  }

  private toolDeltas(choice: number, calls: unknown[], out: StreamEvent[]): void {
    let seen = this.tools.get(choice);
    if (!seen) {
      seen = new Set();
      this.tools.set(choice, seen);
    }
    for (const tc of calls) {
      if (!isObj(tc)) continue;
      const index = typeof tc.index === 'number' ? tc.index : 0;
      const fn = isObj(tc.function) ? tc.function : {};
      if (!seen.has(index)) {
        seen.add(index);
        out.push({
          type: 'tool_call_start',
          choice,
          index,
          id: typeof tc.id === 'string' ? tc.id : `call_${index}`,
          name: typeof fn.name === 'string' ? fn.name : '',
        });
      }
      if (typeof fn.arguments === 'string' && fn.arguments)
        out.push({ type: 'tool_call_delta', choice, index, arguments: fn.arguments });
    }
  }
}
