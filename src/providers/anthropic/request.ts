import type { ChatRequest, ContentPart, Message } from '../../gateway/canonical.js';

type Obj = Record<string, unknown>;

/** Anthropic requires max_tokens; used when the client set none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Canonical chat → Anthropic Messages body. */
export function encodeMessagesRequest(req: ChatRequest): Obj {
  const system: string[] = [];
  const messages: { role: 'user' | 'assistant'; content: Obj[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Obj[]) => {
    if (blocks.length === 0) return;
    const last = messages[messages.length - 1];
    // Anthropic wants alternating roles: consecutive same-role turns merge.
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of req.messages) {
    if (m.role === 'system') system.push(textOf(m.content));
    else if (m.role === 'tool')
      push('user', [
        {
          type: 'tool_result',
          tool_use_id: m.toolCallId ?? '',
          content: textOf(m.content),
          ...(m.isError ? { is_error: true } : {}),
        },
      ]);
    else push(m.role, blocksOf(m));
  }
  const out: Obj = { model: req.model, messages, max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (system.length) out.system = system.join('\n\n');
  if (req.temperature !== undefined) out.temperature = Math.min(1, Math.max(0, req.temperature));
  if (req.topP !== undefined) out.top_p = req.topP;
  if (req.topK !== undefined) out.top_k = req.topK;
  if (req.stop?.length) out.stop_sequences = req.stop;
  if (req.stream) out.stream = true;
  const tc = req.toolChoice;
  if (req.tools?.length && tc !== 'none') {
    out.tools = req.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema: t.parameters,
    }));
    const disableParallel = req.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
    if (tc === 'required') out.tool_choice = { type: 'any', ...disableParallel };
    else if (typeof tc === 'object') out.tool_choice = { type: 'tool', name: tc.name, ...disableParallel };
    else if (tc === 'auto' || req.parallelToolCalls === false)
      out.tool_choice = { type: 'auto', ...disableParallel };
  }
  const rf = req.responseFormat;
  if (rf && rf.type !== 'text') {
    // No native JSON mode in the Messages API: instruct, schema included.
    const schema =
      rf.type === 'json_schema' ? ` matching this JSON schema: ${JSON.stringify(rf.schema)}` : '';
    system.push(`Answer with a single JSON value${schema}. Output only the JSON.`);
    out.system = system.join('\n\n');
  }
  if (req.thinkingBudget !== undefined) out.thinking = { type: 'enabled', budget_tokens: req.thinkingBudget };
  if (req.user !== undefined) out.metadata = { user_id: req.user };
  return out;
}

function blocksOf(m: Message): Obj[] {
  const out: Obj[] = [];
  for (const p of m.content) {
    const b = block(p);
    if (b) out.push(b);
  }
  for (const c of m.toolCalls ?? [])
    out.push({ type: 'tool_use', id: c.id, name: c.name, input: parseArgs(c.arguments) });
  return out;
}

function block(p: ContentPart): Obj | undefined {
  switch (p.type) {
    case 'text':
      return p.text === '' ? undefined : { type: 'text', text: p.text };
    case 'image':
      return p.data !== undefined
        ? { type: 'image', source: { type: 'base64', media_type: p.mediaType ?? 'image/png', data: p.data } }
        : { type: 'image', source: { type: 'url', url: p.url ?? '' } };
    case 'file':
      return p.data !== undefined
        ? {
            type: 'document',
            source: { type: 'base64', media_type: p.mediaType ?? 'application/pdf', data: p.data },
          }
        : { type: 'document', source: { type: 'url', url: p.url ?? '' } };
    case 'reasoning':
      return p.signature ? { type: 'thinking', thinking: p.text, signature: p.signature } : undefined;
  }
}

/** Tool arguments as an object; anything else becomes {} (Anthropic's `input` must be an object). */
export function parseArgs(s: string): Obj {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
  } catch {
    return {};
  }
}

function textOf(parts: readonly ContentPart[]): string {
  let s = '';
  for (const p of parts) if (p.type === 'text') s += p.text;
  return s;
}
