import type { CanonicalUsage, StreamEvent } from '../../gateway/canonical.js';
import { JsonSseStreamDecoder } from '../http/sse.js';
import { anthropicUsage, stopReasonOf } from './response.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Anthropic Messages SSE → canonical events. */
export class AnthropicStreamDecoder extends JsonSseStreamDecoder {
  private usage: CanonicalUsage = { inputTokens: 0, outputTokens: 0 };
  /** Content block index → tool-call index. */
  private readonly toolIndex = new Map<number, number>();

  constructor(
    private readonly model: string,
    maxEventBytes: number,
  ) {
    super(maxEventBytes);
  }

  /** Reached only without message_stop: the answer was cut short upstream. */
  protected finish(out: StreamEvent[]): void {
    out.push({
      type: 'error',
      message: 'upstream stream ended before message_stop',
      code: 'upstream_incomplete_stream',
    });
  }

  protected event(e: Obj, name: string | undefined, out: StreamEvent[]): void {
    switch (e.type ?? name) {
      case 'message_start': {
        const m = isObj(e.message) ? e.message : {};
        const u = anthropicUsage(m.usage);
        if (u) this.usage = u;
        out.push({
          type: 'start',
          id: typeof m.id === 'string' ? m.id : 'msg_upstream',
          model: typeof m.model === 'string' ? m.model : this.model,
          created: Math.floor(Date.now() / 1000),
          ...(u ? { usage: u } : {}),
        });
        if (u) out.push({ type: 'usage', usage: { ...this.usage } });
        return;
      }
      case 'content_block_start': {
        const b = isObj(e.content_block) ? e.content_block : {};
        if (b.type === 'tool_use') {
          const index = this.toolIndex.size;
          this.toolIndex.set(typeof e.index === 'number' ? e.index : index, index);
          out.push({
            type: 'tool_call_start',
            choice: 0,
            index,
            id: typeof b.id === 'string' ? b.id : `toolu_${index}`,
            name: typeof b.name === 'string' ? b.name : '',
          });
        } else if (b.type === 'text' && typeof b.text === 'string' && b.text) {
          out.push({ type: 'text', choice: 0, text: b.text });
        }
        return;
      }
      case 'content_block_delta': {
        const d = isObj(e.delta) ? e.delta : {};
        if (d.type === 'text_delta' && typeof d.text === 'string')
          out.push({ type: 'text', choice: 0, text: d.text });
        else if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
          out.push({ type: 'reasoning', choice: 0, text: d.thinking });
        else if (d.type === 'signature_delta' && typeof d.signature === 'string')
          out.push({ type: 'reasoning', choice: 0, text: '', signature: d.signature });
        else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
          const index = this.toolIndex.get(typeof e.index === 'number' ? e.index : -1) ?? 0;
          if (d.partial_json)
            out.push({ type: 'tool_call_delta', choice: 0, index, arguments: d.partial_json });
        }
        return;
      }
      case 'message_delta': {
        const d = isObj(e.delta) ? e.delta : {};
        const u = isObj(e.usage) ? e.usage : undefined;
        if (u) {
          if (typeof u.output_tokens === 'number') this.usage.outputTokens = u.output_tokens;
          if (typeof u.input_tokens === 'number')
            this.usage.inputTokens = anthropicUsage(u)?.inputTokens ?? 0;
          out.push({ type: 'usage', usage: { ...this.usage } });
        }
        if (d.stop_reason != null)
          out.push({
            type: 'finish',
            choice: 0,
            reason: stopReasonOf(d.stop_reason),
            nativeReason: typeof d.stop_reason === 'string' ? d.stop_reason : undefined,
          });
        return;
      }
      case 'message_stop':
        this.ended = true;
        out.push({ type: 'end' });
        return;
      case 'error': {
        const err = isObj(e.error) ? e.error : {};
        this.ended = true;
        out.push({
          type: 'error',
          message: typeof err.message === 'string' ? err.message : 'upstream stream error',
          code: typeof err.type === 'string' ? err.type : 'upstream_error',
        });
        return;
      }
      default:
        return;
    }
  }
}
