import type {
  CanonicalOp,
  CanonicalResponse,
  CanonicalUsage,
  ContentPart,
  FinishReason,
  ToolCall,
} from '../../gateway/canonical.js';
import { parseJson } from '../openai/response.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function stopReasonOf(v: unknown): FinishReason {
  switch (v) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** Anthropic usage → canonical; input includes cache reads and writes. */
export function anthropicUsage(u: unknown): CanonicalUsage | undefined {
  if (!isObj(u)) return undefined;
  const cacheRead = num(u.cache_read_input_tokens);
  const cacheWrite = num(u.cache_creation_input_tokens);
  const usage: CanonicalUsage = {
    inputTokens: num(u.input_tokens) + cacheRead + cacheWrite,
    outputTokens: num(u.output_tokens),
  };
  if (cacheRead) usage.cachedInputTokens = cacheRead;
  if (cacheWrite) usage.cacheWriteTokens = cacheWrite;
  return usage;
}

export function parseMessagesResponse(op: CanonicalOp, body: Buffer): CanonicalResponse {
  const r = parseJson(body);
  if (op === 'count_tokens') return { op: 'count_tokens', inputTokens: num(r.input_tokens) };
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  for (const b of Array.isArray(r.content) ? r.content : []) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') content.push({ type: 'text', text: b.text });
    else if (b.type === 'thinking' && typeof b.thinking === 'string')
      content.push({
        type: 'reasoning',
        text: b.thinking,
        ...(typeof b.signature === 'string' ? { signature: b.signature } : {}),
      });
    else if (b.type === 'tool_use')
      toolCalls.push({
        id: typeof b.id === 'string' ? b.id : '',
        name: typeof b.name === 'string' ? b.name : '',
        arguments: JSON.stringify(b.input ?? {}),
      });
  }
  return {
    op: 'chat',
    id: typeof r.id === 'string' ? r.id : 'msg_upstream',
    model: typeof r.model === 'string' ? r.model : '',
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(toolCalls.length ? { toolCalls } : {}) },
        finishReason: stopReasonOf(r.stop_reason),
        nativeFinishReason: typeof r.stop_reason === 'string' ? r.stop_reason : undefined,
      },
    ],
    usage: anthropicUsage(r.usage),
  };
}
