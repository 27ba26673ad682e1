import type {
  ChatRequest,
  CompletionRequest,
  ContentPart,
  EmbeddingsRequest,
  Message,
  SamplingParams,
} from '../../gateway/canonical.js';

type Obj = Record<string, unknown>;

/** Canonical chat → OpenAI chat completions body. */
export function encodeChatRequest(req: ChatRequest): Obj {
  const out: Obj = { model: req.model, messages: req.messages.map(encodeMessage) };
  sampling(req, out);
  if (req.stream) {
    out.stream = true;
    // The gateway always needs usage, whether or not the client asked for it.
    out.stream_options = { include_usage: true };
  }
  if (req.tools?.length)
    out.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: t.parameters,
        ...(t.strict !== undefined ? { strict: t.strict } : {}),
      },
    }));
  const tc = req.toolChoice;
  if (tc !== undefined)
    out.tool_choice = typeof tc === 'string' ? tc : { type: 'function', function: { name: tc.name } };
  if (req.parallelToolCalls !== undefined) out.parallel_tool_calls = req.parallelToolCalls;
  const rf = req.responseFormat;
  if (rf)
    out.response_format =
      rf.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: {
              name: rf.name,
              schema: rf.schema,
              ...(rf.strict !== undefined ? { strict: rf.strict } : {}),
              ...(rf.description !== undefined ? { description: rf.description } : {}),
            },
          }
        : { type: rf.type };
  if (req.reasoningEffort) out.reasoning_effort = req.reasoningEffort;
  if (req.user !== undefined) out.user = req.user;
  if (req.metadata) out.metadata = req.metadata;
  return out;
}

function sampling(s: SamplingParams, out: Obj): void {
  if (s.maxTokens !== undefined) out.max_tokens = s.maxTokens;
  if (s.temperature !== undefined) out.temperature = s.temperature;
  if (s.topP !== undefined) out.top_p = s.topP;
  if (s.stop?.length) out.stop = s.stop;
  if (s.seed !== undefined) out.seed = s.seed;
  if (s.presencePenalty !== undefined) out.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== undefined) out.frequency_penalty = s.frequencyPenalty;
  if (s.n !== undefined) out.n = s.n;
  if (s.logprobs !== undefined) out.logprobs = s.logprobs;
  if (s.topLogprobs !== undefined) out.top_logprobs = s.topLogprobs;
}

function encodeMessage(m: Message): Obj {
  if (m.role === 'tool')
    return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: textOf(m.content) };
  const out: Obj = { role: m.role };
  if (m.name !== undefined) out.name = m.name;
  if (m.role === 'assistant') {
    const text = textOf(m.content);
    out.content = text === '' && m.toolCalls?.length ? null : text;
    if (m.toolCalls?.length)
      out.tool_calls = m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      }));
    return out;
  }
  const parts = m.content.filter((p) => p.type !== 'reasoning');
  out.content = parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts.map(encodePart);
  if (m.role === 'system' && Array.isArray(out.content)) out.content = textOf(parts);
  return out;
}

function encodePart(p: ContentPart): Obj {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image': {
      const url = p.url ?? `data:${p.mediaType ?? 'image/png'};base64,${p.data ?? ''}`;
      return { type: 'image_url', image_url: { url, ...(p.detail ? { detail: p.detail } : {}) } };
    }
    case 'file':
      return {
        type: 'file',
        file: {
          ...(p.data !== undefined
            ? { file_data: `data:${p.mediaType ?? 'application/pdf'};base64,${p.data}` }
            : {}),
          ...(p.filename !== undefined ? { filename: p.filename } : {}),
        },
      };
    case 'reasoning':
      return { type: 'text', text: '' };
  }
}

export function textOf(parts: readonly ContentPart[]): string {
  let s = '';
  for (const p of parts) if (p.type === 'text') s += p.text;
  return s;
}

export function encodeCompletionRequest(req: CompletionRequest): Obj {
  const out: Obj = { model: req.model, prompt: req.prompt };
  sampling(req, out);
  if (req.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  if (req.user !== undefined) out.user = req.user;
  return out;
}

export function encodeEmbeddingsRequest(req: EmbeddingsRequest): Obj {
  const out: Obj = { model: req.model, input: req.input, encoding_format: 'float' };
  if (req.dimensions !== undefined) out.dimensions = req.dimensions;
  if (req.user !== undefined) out.user = req.user;
  return out;
}
