import { randomUUID } from 'node:crypto';
import type {
  CanonicalUsage,
  ChatResponse,
  Choice,
  ContentPart,
  EmbeddingsResponse,
  FinishReason,
  ToolCall,
} from '../../gateway/canonical.js';
import { parseJson } from '../openai/response.js';
import { isObj, num, str } from '../shared-parts.js';
import { UpstreamError } from '../types.js';

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

export function finishReasonOf(v: unknown, hasToolCalls: boolean): FinishReason {
  if (v === 'MAX_TOKENS') return 'length';
  if (typeof v === 'string' && FILTERED.has(v)) return 'content_filter';
  if (v === 'MALFORMED_FUNCTION_CALL') return 'error';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

export function geminiUsage(u: unknown): CanonicalUsage | undefined {
  if (!isObj(u)) return undefined;
  const thoughts = num(u.thoughtsTokenCount);
  const out: CanonicalUsage = {
    inputTokens: num(u.promptTokenCount),
    outputTokens: num(u.candidatesTokenCount) + thoughts,
  };
  if (thoughts) out.reasoningTokens = thoughts;
  if (u.cachedContentTokenCount !== undefined) out.cachedInputTokens = num(u.cachedContentTokenCount);
  return out;
}

/** One candidate's parts → text, reasoning and tool calls (Gemini gives calls no id; the gateway numbers them). */
export function candidateParts(
  parts: unknown,
  idPrefix: string,
): { content: ContentPart[]; toolCalls: ToolCall[] } {
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  let text = '';
  for (const p of Array.isArray(parts) ? parts : []) {
    if (!isObj(p)) continue;
    if (typeof p.text === 'string') {
      if (p.thought === true) content.push({ type: 'reasoning', text: p.text });
      else text += p.text;
    } else if (isObj(p.functionCall)) {
      const fc = p.functionCall;
      toolCalls.push({
        id: str(fc.id) || `${idPrefix}_${toolCalls.length}`,
        name: str(fc.name),
        arguments: JSON.stringify(fc.args ?? {}),
      });
    }
  }
  if (text) content.push({ type: 'text', text });
  return { content, toolCalls };
}

export function parseGenerateResponse(body: Buffer, model: string): ChatResponse {
  const j = parseJson(body);
  const id = str(j.responseId) || randomUUID();
  const choices: Choice[] = [];
  const cands = Array.isArray(j.candidates) ? j.candidates : [];
  for (const [i, c] of cands.entries()) {
    if (!isObj(c)) continue;
    const { content, toolCalls } = candidateParts(
      isObj(c.content) ? c.content.parts : undefined,
      `call_${id}_${i}`,
    );
    choices.push({
      index: typeof c.index === 'number' ? c.index : i,
      message: { role: 'assistant', content, ...(toolCalls.length ? { toolCalls } : {}) },
      finishReason: finishReasonOf(c.finishReason, toolCalls.length > 0),
      nativeFinishReason: str(c.finishReason) || undefined,
    });
  }
  if (choices.length === 0) {
    const blocked = isObj(j.promptFeedback) && typeof j.promptFeedback.blockReason === 'string';
    if (!blocked) throw new UpstreamError('bad_response', 'Gemini answer without candidates');
    choices.push({ index: 0, message: { role: 'assistant', content: [] }, finishReason: 'content_filter' });
  }
  return {
    op: 'chat',
    id: `chatcmpl-${id}`,
    model: str(j.modelVersion) || model,
    created: Math.floor(Date.now() / 1000),
    choices,
    usage: geminiUsage(j.usageMetadata),
  };
}

/** batchEmbedContents ({embeddings:[{values}]}) or Vertex predict ({predictions:[{embeddings:{values}}]}). */
export function parseEmbeddings(body: Buffer, model: string): EmbeddingsResponse {
  const j = parseJson(body);
  let inputTokens = 0;
  const raw = Array.isArray(j.embeddings)
    ? j.embeddings.map((e) => (isObj(e) ? e.values : undefined))
    : Array.isArray(j.predictions)
      ? j.predictions.map((p) => {
          const e = isObj(p) && isObj(p.embeddings) ? p.embeddings : undefined;
          if (e && isObj(e.statistics)) inputTokens += num(e.statistics.token_count);
          return e?.values;
        })
      : undefined;
  if (!raw?.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
    throw new UpstreamError('bad_response', 'embeddings answer without float vectors');
  }
  return { op: 'embeddings', model, vectors: raw as number[][], usage: { inputTokens, outputTokens: 0 } };
}
