import type {
  CanonicalOp,
  CanonicalResponse,
  CanonicalUsage,
  Choice,
  FinishReason,
  ToolCall,
} from '../../gateway/canonical.js';
import { UpstreamError } from '../types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function parseJson(body: Buffer): Obj {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new UpstreamError('bad_response', 'upstream sent invalid JSON');
  }
  if (!isObj(v)) throw new UpstreamError('bad_response', 'upstream sent JSON that is not an object');
  return v;
}

export function finishReasonOf(v: unknown): FinishReason {
  switch (v) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** OpenAI usage object → canonical (undefined when absent or malformed). */
export function usageOf(u: unknown): CanonicalUsage | undefined {
  if (!isObj(u)) return undefined;
  const usage: CanonicalUsage = { inputTokens: num(u.prompt_tokens), outputTokens: num(u.completion_tokens) };
  const pd = u.prompt_tokens_details;
  if (isObj(pd) && num(pd.cached_tokens) > 0) usage.cachedInputTokens = num(pd.cached_tokens);
  const cd = u.completion_tokens_details;
  if (isObj(cd) && num(cd.reasoning_tokens) > 0) usage.reasoningTokens = num(cd.reasoning_tokens);
  return usage;
}

function toolCallsOf(v: unknown): ToolCall[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: ToolCall[] = [];
  for (const c of v) {
    if (!isObj(c)) continue;
    const fn = isObj(c.function) ? c.function : {};
    const args = fn.arguments;
    out.push({
      id: str(c.id),
      name: str(fn.name),
      arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
    });
  }
  return out.length ? out : undefined;
}

/** An OpenAI JSON answer (chat, completions or embeddings) → canonical. */
export function parseOpenAIResponse(op: CanonicalOp, body: Buffer): CanonicalResponse {
  const r = parseJson(body);
  const id = str(r.id, 'chatcmpl-upstream');
  const model = str(r.model);
  const created = num(r.created) || Math.floor(Date.now() / 1000);
  const usage = usageOf(r.usage);
  if (op === 'embeddings') {
    const data = Array.isArray(r.data) ? r.data : [];
    const vectors = data
      .filter(isObj)
      .sort((a, b) => num(a.index) - num(b.index))
      .map((d) => (Array.isArray(d.embedding) ? d.embedding.map(num) : []));
    return { op: 'embeddings', model, vectors, usage };
  }
  const choices = Array.isArray(r.choices) ? r.choices.filter(isObj) : [];
  if (op === 'completions')
    return {
      op: 'completions',
      id,
      model,
      created,
      choices: choices.map((c, i) => ({
        index: num(c.index) || i,
        text: str(c.text),
        finishReason: finishReasonOf(c.finish_reason),
      })),
      usage,
    };
  if (op === 'count_tokens') return { op: 'count_tokens', inputTokens: usage?.inputTokens ?? 0 };
  const out: Choice[] = choices.map((c, i) => {
    const m = isObj(c.message) ? c.message : {};
    const content = str(m.content);
    const reasoning = str(m.reasoning_content ?? m.reasoning);
    const toolCalls = toolCallsOf(m.tool_calls);
    return {
      index: typeof c.index === 'number' ? c.index : i,
      message: {
        role: 'assistant',
        content: [
          ...(reasoning ? [{ type: 'reasoning' as const, text: reasoning }] : []),
          ...(content ? [{ type: 'text' as const, text: content }] : []),
        ],
        ...(toolCalls ? { toolCalls } : {}),
      },
      finishReason: finishReasonOf(c.finish_reason),
      nativeFinishReason: typeof c.finish_reason === 'string' ? c.finish_reason : undefined,
    };
  });
  return { op: 'chat', id, model, created, choices: out, usage };
}
