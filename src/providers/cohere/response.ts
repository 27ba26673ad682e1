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

export function cohereFinish(v: unknown): FinishReason {
  switch (v) {
    case 'MAX_TOKENS':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    case 'ERROR':
      return 'error';
    default:
      return 'stop';
  }
}

export function cohereUsage(u: unknown): CanonicalUsage | undefined {
  if (!isObj(u)) return undefined;
  const t = isObj(u.tokens) ? u.tokens : isObj(u.billed_units) ? u.billed_units : undefined;
  return t ? { inputTokens: num(t.input_tokens), outputTokens: num(t.output_tokens) } : undefined;
}

export function toolCallsOf(v: unknown): ToolCall[] {
  const out: ToolCall[] = [];
  for (const c of Array.isArray(v) ? v : []) {
    if (!isObj(c) || !isObj(c.function)) continue;
    out.push({ id: str(c.id), name: str(c.function.name), arguments: str(c.function.arguments, '{}') });
  }
  return out;
}

export function parseCohereChat(body: Buffer, model: string): ChatResponse {
  const j = parseJson(body);
  if (!isObj(j.message)) throw new UpstreamError('bad_response', 'Cohere answer without message');
  let text = '';
  for (const p of Array.isArray(j.message.content) ? j.message.content : []) {
    if (isObj(p) && p.type === 'text') text += str(p.text);
  }
  const toolCalls = toolCallsOf(j.message.tool_calls);
  return {
    op: 'chat',
    id: `chatcmpl-${str(j.id) || randomUUID()}`,
    model,
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text ? [{ type: 'text', text }] : [],
          ...(toolCalls.length ? { toolCalls } : {}),
        },
        finishReason: cohereFinish(j.finish_reason),
        nativeFinishReason: str(j.finish_reason) || undefined,
      },
    ],
    usage: cohereUsage(j.usage),
  };
}

export function parseCohereEmbed(body: Buffer, model: string): EmbeddingsResponse {
  const j = parseJson(body);
  const v = isObj(j.embeddings) ? j.embeddings.float : undefined;
  if (!Array.isArray(v) || !v.every((x) => Array.isArray(x) && x.every((n) => typeof n === 'number'))) {
    throw new UpstreamError('bad_response', 'Cohere embed answer without float embeddings');
  }
  const billed = isObj(j.meta) && isObj(j.meta.billed_units) ? num(j.meta.billed_units.input_tokens) : 0;
  return {
    op: 'embeddings',
    model,
    vectors: v as number[][],
    usage: { inputTokens: billed, outputTokens: 0 },
  };
}
