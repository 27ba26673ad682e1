import type { CanonicalOp, StreamEvent } from '../../gateway/canonical.js';
import { JsonSseStreamDecoder } from '../http/sse.js';
import { finishReasonOf, usageOf } from './response.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** OpenAI chat/completions chunk stream → canonical events. Malformed events end the stream with an `error`. */
export class OpenAIStreamDecoder extends JsonSseStreamDecoder {
  protected override readonly doneMarker = '[DONE]';
  protected override readonly errorObjects = true;
  private started = false;
  /** Per choice: tool-call index → seen. */
  private readonly tools = new Map<number, Set<number>>();

  constructor(
    private readonly op: CanonicalOp,
    private readonly model: string,
    maxEventBytes: number,
  ) {
    super(maxEventBytes);
  }

  protected finish(out: StreamEvent[]): void {
    out.push({ type: 'end' });
  }

  protected event(j: Obj, _name: string | undefined, out: StreamEvent[]): void {
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
      this.fail(out, 'upstream sent an invalid stream event', 'upstream_bad_response');
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
