import type { StreamEvent } from '../../gateway/canonical.js';
import { SseDecoder } from '../http/sse.js';
import type { StreamDecoder } from '../provider.js';
import { isObj, num, str } from '../shared-parts.js';
import { cohereFinish, cohereUsage } from './response.js';

/** Cohere v2 chat stream (typed JSON events: message-start, content-delta, tool-call-*, message-end) → canonical. */
export class CohereStreamDecoder implements StreamDecoder {
  private readonly sse: SseDecoder;
  private started = false;
  private ended = false;

  constructor(
    private readonly model: string,
    maxEventBytes: number,
  ) {
    this.sse = new SseDecoder(maxEventBytes);
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.consume(() => this.sse.push(chunk));
  }

  end(): StreamEvent[] {
    const out = this.consume(() => this.sse.end());
    if (!this.ended) {
      this.ended = true;
      this.start(out, '');
      out.push({ type: 'end' });
    }
    return out;
  }

  private start(out: StreamEvent[], id: string): void {
    if (this.started) return;
    this.started = true;
    out.push({
      type: 'start',
      id: `chatcmpl-${id || 'cohere'}`,
      model: this.model,
      created: Math.floor(Date.now() / 1000),
    });
  }

  private consume(read: () => { data: string }[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.ended) return out;
    let events: { data: string }[];
    try {
      events = read();
    } catch (e) {
      this.ended = true;
      out.push({ type: 'error', message: (e as Error).message, code: 'upstream_bad_response' });
      return out;
    }
    for (const e of events) {
      if (this.ended) break;
      const data = e.data.trim();
      if (data === '') continue;
      if (data === '[DONE]') {
        this.ended = true;
        this.start(out, '');
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
      this.event(j, out);
    }
    return out;
  }

  private event(j: Record<string, unknown>, out: StreamEvent[]): void {
    this.start(out, str(j.id));
    const msg = isObj(j.delta) && isObj(j.delta.message) ? j.delta.message : {};
    const index = num(j.index);
    switch (j.type) {
      case 'content-delta': {
        const c = isObj(msg.content) ? msg.content : {};
        if (typeof c.text === 'string') out.push({ type: 'text', choice: 0, text: c.text });
        return;
      }
      case 'tool-call-start': {
        const t = isObj(msg.tool_calls) ? msg.tool_calls : {};
        const f = isObj(t.function) ? t.function : {};
        out.push({ type: 'tool_call_start', choice: 0, index, id: str(t.id), name: str(f.name) });
        if (str(f.arguments))
          out.push({ type: 'tool_call_delta', choice: 0, index, arguments: str(f.arguments) });
        return;
      }
      case 'tool-call-delta': {
        const t = isObj(msg.tool_calls) ? msg.tool_calls : {};
        const f = isObj(t.function) ? t.function : {};
        if (str(f.arguments))
          out.push({ type: 'tool_call_delta', choice: 0, index, arguments: str(f.arguments) });
        return;
      }
      case 'message-end': {
        const d = isObj(j.delta) ? j.delta : {};
        out.push({
          type: 'finish',
          choice: 0,
          reason: cohereFinish(d.finish_reason),
          nativeReason: str(d.finish_reason) || undefined,
        });
        const usage = cohereUsage(d.usage);
        if (usage) out.push({ type: 'usage', usage });
        return;
      }
      default:
        return;
    }
  }
}
