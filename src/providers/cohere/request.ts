import type { ChatRequest, EmbeddingsRequest } from '../../gateway/canonical.js';
import { inlineImage, type Obj, textOf } from '../shared-parts.js';

/** Canonical chat → Cohere v2 /v2/chat body. */
export function encodeCohereChat(req: ChatRequest): Obj {
  const messages: Obj[] = [];
  for (const m of req.messages) {
    if (m.role === 'system') messages.push({ role: 'system', content: textOf(m.content) });
    else if (m.role === 'tool')
      messages.push({ role: 'tool', tool_call_id: m.toolCallId ?? '', content: textOf(m.content) });
    else if (m.role === 'assistant') {
      const out: Obj = { role: 'assistant' };
      const t = textOf(m.content);
      if (t) out.content = t;
      if (m.toolCalls?.length) {
        out.tool_calls = m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: c.arguments },
        }));
      }
      messages.push(out);
    } else {
      const parts: Obj[] = [];
      for (const p of m.content) {
        if (p.type === 'text') parts.push({ type: 'text', text: p.text });
        else if (p.type === 'image') {
          const img = inlineImage(p);
          parts.push({
            type: 'image_url',
            image_url: { url: img ? `data:${img.mediaType};base64,${img.data}` : (p.url ?? '') },
          });
        }
      }
      messages.push({
        role: 'user',
        content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts,
      });
    }
  }
  const out: Obj = { model: req.model, messages };
  if (req.stream) out.stream = true;
  if (req.maxTokens !== undefined) out.max_tokens = req.maxTokens;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.topP !== undefined) out.p = req.topP;
  if (req.topK !== undefined) out.k = req.topK;
  if (req.stop?.length) out.stop_sequences = req.stop;
  if (req.seed !== undefined) out.seed = req.seed;
  if (req.presencePenalty !== undefined) out.presence_penalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) out.frequency_penalty = req.frequencyPenalty;
  const rf = req.responseFormat;
  if (rf?.type === 'json_object') out.response_format = { type: 'json_object' };
  else if (rf?.type === 'json_schema') out.response_format = { type: 'json_object', json_schema: rf.schema };
  if (req.tools?.length) {
    out.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: t.parameters,
      },
    }));
    // Cohere has REQUIRED and NONE only: a named tool is sent alone and required.
    const tc = req.toolChoice;
    if (tc === 'required') out.tool_choice = 'REQUIRED';
    else if (tc === 'none') out.tool_choice = 'NONE';
    else if (typeof tc === 'object') {
      out.tools = (out.tools as { function: { name: string } }[]).filter((t) => t.function.name === tc.name);
      out.tool_choice = 'REQUIRED';
    }
  }
  return out;
}

export function encodeCohereEmbed(req: EmbeddingsRequest): Obj {
  return {
    model: req.model,
    texts: req.input,
    input_type: req.inputType === 'query' ? 'search_query' : 'search_document',
    embedding_types: ['float'],
    ...(req.dimensions !== undefined ? { output_dimension: req.dimensions } : {}),
  };
}
