import { randomUUID } from 'node:crypto';
import type { StreamEvent } from '../../gateway/canonical.js';
import type { StreamDecoder } from '../provider.js';
import { isObj, num, str } from '../shared-parts.js';
import { EventStreamDecoder, MAX_FRAME_BYTES, toEvent } from './eventstream.js';
import { bedrockUsage, stopReasonOf } from './response.js';

/** ConverseStream event-stream frames → canonical events (one decoder per stream, bounded to one frame). */
export class BedrockStreamDecoder implements StreamDecoder {
  private readonly frames: EventStreamDecoder;
  private started = false;
  private ended = false;
  /** contentBlockIndex → tool-call index. */
  private readonly toolIndex = new Map<number, number>();

  constructor(
    private readonly model: string,
    private readonly requestId: string = randomUUID(),
    maxFrameBytes = MAX_FRAME_BYTES,
  ) {
    this.frames = new EventStreamDecoder(maxFrameBytes);
  }

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.ended) return out;
    try {
      for (const m of this.frames.push(chunk)) {
        this.event(toEvent(m), out);
        if (this.ended) break;
      }
    } catch (e) {
      this.fail(
        out,
        `upstream sent a malformed event stream: ${(e as Error).message}`,
        'upstream_bad_response',
      );
    }
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.ended) return out;
    if (!this.frames.idle)
      this.fail(out, 'upstream event stream ended inside a frame', 'upstream_bad_response');
    else {
      this.ended = true;
      this.ensureStart(out);
      out.push({ type: 'end' });
    }
    return out;
  }

  private ensureStart(out: StreamEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      type: 'start',
      id: `chatcmpl-${this.requestId}`,
      model: this.model,
      created: Math.floor(Date.now() / 1000),
    });
  }

  private fail(out: StreamEvent[], message: string, code: string, status?: number): void {
    this.ended = true;
    out.push({ type: 'error', message, code, ...(status ? { status } : {}) });
  }

  private event(ev: ReturnType<typeof toEvent>, out: StreamEvent[]): void {
    const p = isObj(ev.payload) ? ev.payload : {};
    if (ev.messageType !== 'event') {
      const status = /throttl/i.test(ev.type) ? 429 : /validation/i.test(ev.type) ? 400 : 502;
      this.fail(out, str(p.message, `Bedrock stream ${ev.type}`), ev.type, status);
      return;
    }
    this.ensureStart(out);
    switch (ev.type) {
      case 'contentBlockStart': {
        const tu = isObj(p.start) && isObj(p.start.toolUse) ? p.start.toolUse : undefined;
        if (tu) {
          const index = this.toolIndex.size;
          this.toolIndex.set(num(p.contentBlockIndex), index);
          out.push({ type: 'tool_call_start', choice: 0, index, id: str(tu.toolUseId), name: str(tu.name) });
        }
        return;
      }
      case 'contentBlockDelta': {
        const d = isObj(p.delta) ? p.delta : {};
        if (typeof d.text === 'string') out.push({ type: 'text', choice: 0, text: d.text });
        else if (isObj(d.toolUse)) {
          const index = this.toolIndex.get(num(p.contentBlockIndex));
          if (index !== undefined)
            out.push({ type: 'tool_call_delta', choice: 0, index, arguments: str(d.toolUse.input) });
        } else if (isObj(d.reasoningContent)) {
          const r = d.reasoningContent;
          if (typeof r.text === 'string') out.push({ type: 'reasoning', choice: 0, text: r.text });
          else if (typeof r.signature === 'string')
            out.push({ type: 'reasoning', choice: 0, text: '', signature: r.signature });
        }
        return;
      }
      case 'messageStop':
        out.push({
          type: 'finish',
          choice: 0,
          reason: stopReasonOf(p.stopReason),
          nativeReason: str(p.stopReason) || undefined,
        });
        return;
      case 'metadata': {
        const usage = bedrockUsage(p.usage);
        if (usage) out.push({ type: 'usage', usage });
        return;
      }
      default:
        return;
    }
  }
}
