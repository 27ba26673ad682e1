import type { ChatRequest, ContentPart, EmbeddingsRequest } from '../../gateway/canonical.js';
import { argsObject, inlineImage, type Obj, textOf } from '../shared-parts.js';

/** Canonical chat → Gemini generateContent body (Gemini API and Vertex's Google publisher models). */
export function encodeGenerateRequest(req: ChatRequest): Obj {
  const contents: { role: 'user' | 'model'; parts: Obj[] }[] = [];
  const system: string[] = [];
  const toolNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: Obj[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const m of req.messages) {
    if (m.role === 'system') {
      const t = textOf(m.content);
      if (t) system.push(t);
    } else if (m.role === 'tool') {
      const text = textOf(m.content);
      let response: unknown;
      try {
        response = JSON.parse(text);
      } catch {
        response = undefined;
      }
      const name = m.toolName ?? toolNames.get(m.toolCallId ?? '') ?? 'tool';
      push('user', [
        {
          functionResponse: {
            name,
            response:
              response && typeof response === 'object' && !Array.isArray(response)
                ? response
                : { [m.isError ? 'error' : 'result']: response ?? text },
          },
        },
      ]);
    } else {
      const parts: Obj[] = [];
      for (const p of m.content) {
        const part = partOf(p);
        if (part) parts.push(part);
      }
      for (const c of m.toolCalls ?? []) {
        toolNames.set(c.id, c.name);
        parts.push({ functionCall: { name: c.name, args: argsObject(c.arguments) } });
      }
      push(m.role === 'assistant' ? 'model' : 'user', parts);
    }
  }
  const out: Obj = { contents };
  if (system.length) out.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  const gc: Obj = {};
  if (req.maxTokens !== undefined) gc.maxOutputTokens = req.maxTokens;
  if (req.temperature !== undefined) gc.temperature = req.temperature;
  if (req.topP !== undefined) gc.topP = req.topP;
  if (req.topK !== undefined) gc.topK = req.topK;
  if (req.stop?.length) gc.stopSequences = req.stop.slice(0, 5);
  if (req.seed !== undefined) gc.seed = req.seed;
  if (req.presencePenalty !== undefined) gc.presencePenalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) gc.frequencyPenalty = req.frequencyPenalty;
  if (req.n !== undefined && req.n > 1) gc.candidateCount = req.n;
  const rf = req.responseFormat;
  if (rf?.type === 'json_object') gc.responseMimeType = 'application/json';
  else if (rf?.type === 'json_schema') {
    gc.responseMimeType = 'application/json';
    gc.responseJsonSchema = rf.schema;
  }
  if (req.thinkingBudget !== undefined) gc.thinkingConfig = { thinkingBudget: req.thinkingBudget };
  if (Object.keys(gc).length) out.generationConfig = gc;
  const tc = req.toolChoice;
  if (req.tools?.length) {
    out.tools = [
      {
        functionDeclarations: req.tools.map((t) => ({
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          parametersJsonSchema: t.parameters,
        })),
      },
    ];
    if (tc !== undefined) {
      out.toolConfig = {
        functionCallingConfig:
          tc === 'auto'
            ? { mode: 'AUTO' }
            : tc === 'none'
              ? { mode: 'NONE' }
              : tc === 'required'
                ? { mode: 'ANY' }
                : { mode: 'ANY', allowedFunctionNames: [tc.name] },
      };
    }
  }
  return out;
}

function partOf(p: ContentPart): Obj | undefined {
  switch (p.type) {
    case 'text':
      return p.text === '' ? undefined : { text: p.text };
    case 'image': {
      const img = inlineImage(p);
      if (img) return { inlineData: { mimeType: img.mediaType, data: img.data } };
      return { fileData: { mimeType: p.mediaType ?? 'image/jpeg', fileUri: p.url ?? '' } };
    }
    case 'file':
      return p.data !== undefined
        ? { inlineData: { mimeType: p.mediaType ?? 'application/pdf', data: p.data } }
        : { fileData: { mimeType: p.mediaType ?? 'application/pdf', fileUri: p.url ?? '' } };
    case 'reasoning':
      return undefined;
  }
}

/** Canonical embeddings → batchEmbedContents body (one request per input). */
export function encodeBatchEmbed(req: EmbeddingsRequest): Obj {
  const taskType =
    req.inputType === 'query'
      ? 'RETRIEVAL_QUERY'
      : req.inputType === 'document'
        ? 'RETRIEVAL_DOCUMENT'
        : undefined;
  return {
    requests: req.input.map((text) => ({
      model: `models/${req.model}`,
      content: { parts: [{ text }] },
      ...(taskType ? { taskType } : {}),
      ...(req.dimensions !== undefined ? { outputDimensionality: req.dimensions } : {}),
    })),
  };
}
