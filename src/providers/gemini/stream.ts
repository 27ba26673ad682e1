import { randomUUID } from 'node:crypto';
import type { StreamEvent } from '../../gateway/canonical.js';
import { SseDecoder } from '../http/sse.js';
import type { StreamDecoder } from '../provider.js';
import { isObj, str } from '../shared-parts.js';
import { candidateParts, finishReasonOf, geminiUsage } from './response.js';

/** streamGenerateContent?alt=sse → canonical events; each event is a whole GenerateContentResponse. */
export class GeminiStreamDecoder implements StreamDecoder {
  private readonly sse: SseDecoder;
  private started = false;
  private ended = false;
  private finished = false;
  private readonly id = randomUUID();
  /** Per choice: tool calls emitted so far. */
  private readonly toolCount = new Map<number, number>();

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
      this.ensureStart(out, undefined);
      out.push({ type: 'end' });
    }
    return out;
  }

  private ensureStart(out: StreamEvent[], j: Record<string, unknown> | undefined): void {
    if (this.started) return;
    this.started = true;
    out.push({
      type: 'start',
      id: `chatcmpl-${str(j?.responseId) || this.id}`,
      model: str(j?.modelVersion) || this.model,
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
      if (e.data.trim() === '') continue;
      let j: unknown;
      try {
        j = JSON.parse(e.data);
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
        out.push({
          type: 'error',
          message: str(j.error.message, 'upstream stream error'),
          code: 'upstream_error',
        });
        break;
      }
      this.chunk(j, out);
    }
    return out;
  }

  private chunk(j: Record<string, unknown>, out: StreamEvent[]): void {
    this.ensureStart(out, j);
    const cands = Array.isArray(j.candidates) ? j.candidates : [];
    for (const [i, c] of cands.entries()) {
      if (!isObj(c)) continue;
      const choice = typeof c.index === 'number' ? c.index : i;
      const { content, toolCalls } = candidateParts(
        isObj(c.content) ? c.content.parts : undefined,
        `call_${this.id}_${choice}`,
      );
      for (const p of content) {
        if (p.type === 'text') out.push({ type: 'text', choice, text: p.text });
        else if (p.type === 'reasoning') out.push({ type: 'reasoning', choice, text: p.text });
      }
      for (const t of toolCalls) {
        const index = this.toolCount.get(choice) ?? 0;
        this.toolCount.set(choice, index + 1);
        out.push({ type: 'tool_call_start', choice, index, id: t.id, name: t.name });
        out.push({ type: 'tool_call_delta', choice, index, arguments: t.arguments });
      }
      if (c.finishReason !== undefined) {
        out.push({
          type: 'finish',
          choice,
          reason: finishReasonOf(c.finishReason, (this.toolCount.get(choice) ?? 0) > 0),
          nativeReason: str(c.finishReason) || undefined,
        });
      }
    }
    if (cands.some((c) => isObj(c) && c.finishReason !== undefined)) this.finished = true;
    // Every chunk carries running usage; it is reported once the answer is finished (the last report wins).
    const usage = geminiUsage(j.usageMetadata);
    if (usage && this.finished) out.push({ type: 'usage', usage });
  }
}
