import type { ChatRequest, ContentPart, Message } from '../../gateway/canonical.js';
import { argsObject, inlineImage, type Obj, textOf, unsupported } from '../shared-parts.js';

const IMAGE_FORMATS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** Canonical chat → Bedrock Converse body (the model goes in the path). */
export function encodeConverseRequest(req: ChatRequest, provider: string): Obj {
  const system: Obj[] = [];
  const messages: { role: 'user' | 'assistant'; content: Obj[] }[] = [];
  let sawToolUse = false;
  const push = (role: 'user' | 'assistant', blocks: Obj[]) => {
    if (blocks.length === 0) return;
    const last = messages[messages.length - 1];
    // Converse requires alternating roles: consecutive same-role turns merge (tool results join the user turn).
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of req.messages) {
    if (m.role === 'system') {
      const t = textOf(m.content);
      if (t) system.push({ text: t });
    } else if (m.role === 'tool') {
      sawToolUse = true;
      push('user', [
        {
          toolResult: {
            toolUseId: m.toolCallId ?? '',
            content: [{ text: textOf(m.content) }],
            ...(m.isError ? { status: 'error' } : {}),
          },
        },
      ]);
    } else {
      if (m.toolCalls?.length) sawToolUse = true;
      push(m.role, blocksOf(m, provider));
    }
  }
  const rf = req.responseFormat;
  if (rf && rf.type !== 'text') {
    const schema =
      rf.type === 'json_schema' ? ` matching this JSON schema: ${JSON.stringify(rf.schema)}` : '';
    system.push({ text: `Answer with a single JSON value${schema}. Output only the JSON.` });
  }
  const out: Obj = { messages };
  if (system.length) out.system = system;
  const inf: Obj = {};
  if (req.maxTokens !== undefined) inf.maxTokens = req.maxTokens;
  if (req.temperature !== undefined) inf.temperature = req.temperature;
  if (req.topP !== undefined) inf.topP = req.topP;
  if (req.stop?.length) inf.stopSequences = req.stop.slice(0, 4);
  if (Object.keys(inf).length) out.inferenceConfig = inf;
  if (req.topK !== undefined) out.additionalModelRequestFields = { top_k: req.topK };
  const tc = req.toolChoice;
  // Bedrock has no "none": the tools are left out, unless the history holds tool turns (then they must be declared).
  if (req.tools?.length && (tc !== 'none' || sawToolUse)) {
    const toolConfig: Obj = {
      tools: req.tools.map((t) => ({
        toolSpec: {
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          inputSchema: { json: t.parameters },
        },
      })),
    };
    if (tc === 'required') toolConfig.toolChoice = { any: {} };
    else if (typeof tc === 'object') toolConfig.toolChoice = { tool: { name: tc.name } };
    else if (tc === 'auto') toolConfig.toolChoice = { auto: {} };
    out.toolConfig = toolConfig;
  }
  return out;
}

function blocksOf(m: Message, provider: string): Obj[] {
  const out: Obj[] = [];
  for (const p of m.content) {
    const b = block(p, provider);
    if (b) out.push(b);
  }
  for (const c of m.toolCalls ?? [])
    out.push({ toolUse: { toolUseId: c.id, name: c.name, input: argsObject(c.arguments) } });
  return out;
}

function block(p: ContentPart, provider: string): Obj | undefined {
  switch (p.type) {
    case 'text':
      return p.text === '' ? undefined : { text: p.text };
    case 'image': {
      const img = inlineImage(p);
      if (!img) throw unsupported(provider, '(bedrock) takes images as inline data, not by URL');
      const format = IMAGE_FORMATS[img.mediaType.toLowerCase()];
      if (!format) throw unsupported(provider, `(bedrock) does not take ${img.mediaType} images`);
      return { image: { format, source: { bytes: img.data } } };
    }
    case 'file': {
      if (p.data === undefined)
        throw unsupported(provider, '(bedrock) takes documents as inline data, not by URL');
      const format = (p.mediaType ?? 'application/pdf').split('/')[1] ?? 'pdf';
      const name =
        (p.filename ?? 'document').replace(/[^A-Za-z0-9 ()[\]-]/g, '-').slice(0, 200) || 'document';
      return { document: { format, name, source: { bytes: p.data } } };
    }
    case 'reasoning':
      return p.signature
        ? { reasoningContent: { reasoningText: { text: p.text, signature: p.signature } } }
        : undefined;
  }
}

/** Bedrock embedding model families served through InvokeModel. */
export type EmbeddingFamily = 'titan' | 'cohere';

export function embeddingFamily(modelId: string): EmbeddingFamily | undefined {
  const id = modelId.replace(/^(us|eu|apac|global)\./, '');
  if (id.startsWith('amazon.titan-embed')) return 'titan';
  if (id.startsWith('cohere.embed')) return 'cohere';
  return undefined;
}
