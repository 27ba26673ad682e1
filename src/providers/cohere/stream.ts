import type { StreamEvent } from '../../gateway/canonical.js';
import { JsonSseStreamDecoder } from '../http/sse.js';
import { isObj, num, str } from '../shared-parts.js';
import { cohereFinish, cohereUsage } from './response.js';

/** Cohere v2 chat stream (typed JSON events: message-start, content-delta, tool-call-*, message-end) → canonical. */
export class CohereStreamDecoder extends JsonSseStreamDecoder {
  protected override readonly doneMarker = '[DONE]';
  private started = false;

  constructor(
    private readonly model: string,
    maxEventBytes: number,
  ) {
    super(maxEventBytes);
  }

  protected finish(out: StreamEvent[]): void {
    this.start(out, '');
    out.push({ type: 'end' });
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

  protected event(j: Record<string, unknown>, _name: string | undefined, out: StreamEvent[]): void {
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
