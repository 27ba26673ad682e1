import { randomUUID } from 'node:crypto';
import type {
  CanonicalUsage,
  ChatResponse,
  EmbeddingsResponse,
  FinishReason,
  ToolCall,
} from '../../gateway/canonical.js';
import { parseJson } from '../openai/response.js';
import { isObj, num, str } from '../shared-parts.js';
import { UpstreamError } from '../types.js';

export function stopReasonOf(v: unknown): FinishReason {
  switch (v) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function bedrockUsage(u: unknown): CanonicalUsage | undefined {
  if (!isObj(u)) return undefined;
  const out: CanonicalUsage = { inputTokens: num(u.inputTokens), outputTokens: num(u.outputTokens) };
  if (u.cacheReadInputTokens !== undefined) out.cachedInputTokens = num(u.cacheReadInputTokens);
  if (u.cacheWriteInputTokens !== undefined) out.cacheWriteTokens = num(u.cacheWriteInputTokens);
  return out;
}

/** Converse JSON → canonical chat response. */
export function parseConverseResponse(body: Buffer, model: string, requestId = randomUUID()): ChatResponse {
  const j = parseJson(body);
  const msg = isObj(j.output) && isObj(j.output.message) ? j.output.message : undefined;
  if (!msg || !Array.isArray(msg.content))
    throw new UpstreamError('bad_response', 'Bedrock answer without output.message');
  let text = '';
  const toolCalls: ToolCall[] = [];
  const content: ChatResponse['choices'][number]['message']['content'] = [];
  for (const b of msg.content) {
    if (!isObj(b)) continue;
    if (typeof b.text === 'string') text += b.text;
    else if (isObj(b.toolUse)) {
      toolCalls.push({
        id: str(b.toolUse.toolUseId),
        name: str(b.toolUse.name),
        arguments: JSON.stringify(b.toolUse.input ?? {}),
      });
    } else if (isObj(b.reasoningContent) && isObj(b.reasoningContent.reasoningText)) {
      const r = b.reasoningContent.reasoningText;
      content.push({
        type: 'reasoning',
        text: str(r.text),
        ...(typeof r.signature === 'string' ? { signature: r.signature } : {}),
      });
    }
  }
  if (text) content.push({ type: 'text', text });
  return {
    op: 'chat',
    id: `chatcmpl-${requestId}`,
    model,
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(toolCalls.length ? { toolCalls } : {}) },
        finishReason: stopReasonOf(j.stopReason),
        nativeFinishReason: str(j.stopReason) || undefined,
      },
    ],
    usage: bedrockUsage(j.usage),
  };
}

/**
 * Embeddings: Cohere's answer ({embeddings: [[…]] | {float: [[…]]}}) or the
 * gateway's own merge of Titan answers ({vectors, inputTokens}: Titan embeds
 * one text per call).
 */
export function parseBedrockEmbeddings(body: Buffer, model: string): EmbeddingsResponse {
  const j = parseJson(body);
  let vectors: unknown;
  let inputTokens = 0;
  if (Array.isArray(j.vectors)) {
    vectors = j.vectors;
    inputTokens = num(j.inputTokens);
  } else if (Array.isArray(j.embeddings)) vectors = j.embeddings;
  else if (isObj(j.embeddings) && Array.isArray(j.embeddings.float)) vectors = j.embeddings.float;
  if (
    !Array.isArray(vectors) ||
    !vectors.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))
  ) {
    throw new UpstreamError('bad_response', 'Bedrock embeddings answer without float vectors');
  }
  return { op: 'embeddings', model, vectors: vectors as number[][], usage: { inputTokens, outputTokens: 0 } };
}
