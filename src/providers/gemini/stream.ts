import { randomUUID } from 'node:crypto';
import type { StreamEvent } from '../../gateway/canonical.js';
import { JsonSseStreamDecoder } from '../http/sse.js';
import { isObj, str } from '../shared-parts.js';
import { candidateParts, finishReasonOf, geminiUsage } from './response.js';

/** streamGenerateContent?alt=sse → canonical events; each event is a whole GenerateContentResponse. */
export class GeminiStreamDecoder extends JsonSseStreamDecoder {
  protected override readonly errorObjects = true;
  private started = false;
  private finished = false;
  private readonly id = randomUUID();
  /** Per choice: tool calls emitted so far. */
  private readonly toolCount = new Map<number, number>();

  constructor(
    private readonly model: string,
    maxEventBytes: number,
  ) {
    super(maxEventBytes);
  }

  protected finish(out: StreamEvent[]): void {
    this.ensureStart(out, undefined);
    out.push({ type: 'end' });
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

  protected event(j: Record<string, unknown>, _name: string | undefined, out: StreamEvent[]): void {
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
