import type {
  ChatRequest,
  ContentPart,
  EmbeddingsRequest,
  JsonSchema,
  Message,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../canonical.js';
import { badField, isObj, type Obj, optInt, optNumber, optObject, reqArray } from './validate.js';

/**
 * Gemini generateContent / countTokens / embedContent bodies → canonical
 * requests. Google's REST surface accepts both camelCase and snake_case field
 * names (proto JSON); both are read here, camelCase first.
 */

/** A field under its camelCase or snake_case name. */
function field(o: Obj, camel: string): unknown {
  if (o[camel] !== undefined) return o[camel];
  return o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const MAX_STOPS = 16;

export function decodeGenerateBody(b: Obj, model: string, stream: boolean, at = ''): ChatRequest {
  const p = (name: string) => (at ? `${at}.${name}` : name);
  const messages: Message[] = [];
  const sys = field(b, 'systemInstruction');
  if (sys !== undefined && sys !== null) {
    const parts =
      typeof sys === 'string'
        ? [{ type: 'text' as const, text: sys }]
        : textParts(sys, p('systemInstruction'));
    if (parts.length) messages.push({ role: 'system', content: parts });
  }
  const contents = field(b, 'contents');
  if (!Array.isArray(contents) || contents.length === 0)
    throw badField(p('contents'), 'must be a non-empty array of Content objects', contents);
  const calls = new CallIds();
  for (let i = 0; i < contents.length; i++) decodeContent(contents[i], p(`contents[${i}]`), messages, calls);
  const req: ChatRequest = { op: 'chat', model, messages, stream };
  const gcRaw = field(b, 'generationConfig');
  if (gcRaw !== undefined && gcRaw !== null) {
    if (!isObj(gcRaw)) throw badField(p('generationConfig'), 'must be an object', gcRaw);
    decodeGenerationConfig(gcRaw, p('generationConfig'), req);
  }
  const tools = decodeTools(field(b, 'tools'), p('tools'));
  if (tools.length) req.tools = tools;
  const tc = field(b, 'toolConfig');
  if (tc !== undefined && tc !== null) {
    const choice = decodeToolConfig(tc, p('toolConfig'));
    if (choice) req.toolChoice = choice;
  }
  return req;
}

function textParts(v: unknown, at: string): ContentPart[] {
  if (!isObj(v)) throw badField(at, 'must be a Content object', v);
  const parts = v.parts;
  if (parts === undefined || parts === null) return [];
  if (!Array.isArray(parts)) throw badField(`${at}.parts`, 'must be an array', parts);
  return parts.map((x, i) => {
    if (!isObj(x) || typeof x.text !== 'string')
      throw badField(`${at}.parts[${i}].text`, 'must be a string', isObj(x) ? x.text : x);
    return { type: 'text' as const, text: x.text };
  });
}

/**
 * Gemini function calls usually carry no id; canonical tool results must
 * name the call they answer. Calls get ids in order, and a response without
 * an id answers the oldest unanswered call of the same name.
 */
class CallIds {
  private n = 0;
  private readonly open = new Map<string, string[]>();

  call(name: string, id: string | undefined): string {
    const callId = id || `call_${this.n++}_${name}`.slice(0, 128);
    const q = this.open.get(name) ?? [];
    q.push(callId);
    this.open.set(name, q);
    return callId;
  }

  answer(name: string, id: string | undefined): string {
    const q = this.open.get(name);
    if (id) {
      const i = q?.indexOf(id) ?? -1;
      if (q && i >= 0) q.splice(i, 1);
      return id;
    }
    return q?.shift() ?? `call_${this.n++}_${name}`.slice(0, 128);
  }
}

function decodeContent(c: unknown, at: string, out: Message[], calls: CallIds): void {
  if (!isObj(c)) throw badField(at, 'must be a Content object', c);
  const role = c.role ?? 'user';
  if (role !== 'user' && role !== 'model' && role !== 'function')
    throw badField(`${at}.role`, 'must be user or model', role);
  const parts = reqArray(c, 'parts', `${at}.parts`);
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  const results: Message[] = [];
  for (let i = 0; i < parts.length; i++) {
    const pt = parts[i];
    const pat = `${at}.parts[${i}]`;
    if (!isObj(pt)) throw badField(pat, 'must be a Part object', pt);
    const inline = field(pt, 'inlineData');
    const file = field(pt, 'fileData');
    const fc = field(pt, 'functionCall');
    const fr = field(pt, 'functionResponse');
    if (typeof pt.text === 'string') {
      content.push(
        pt.thought === true ? { type: 'reasoning', text: pt.text } : { type: 'text', text: pt.text },
      );
    } else if (inline !== undefined) {
      if (!isObj(inline)) throw badField(`${pat}.inlineData`, 'must be an object', inline);
      const mime = field(inline, 'mimeType');
      if (typeof mime !== 'string' || !mime)
        throw badField(`${pat}.inlineData.mimeType`, 'must be a string', mime);
      if (typeof inline.data !== 'string')
        throw badField(`${pat}.inlineData.data`, 'must be a base64 string', inline.data);
      content.push({
        type: mime.startsWith('image/') ? 'image' : 'file',
        data: inline.data,
        mediaType: mime,
      });
    } else if (file !== undefined) {
      if (!isObj(file)) throw badField(`${pat}.fileData`, 'must be an object', file);
      const uri = field(file, 'fileUri');
      if (typeof uri !== 'string' || !uri) throw badField(`${pat}.fileData.fileUri`, 'must be a string', uri);
      const mime = field(file, 'mimeType');
      const mediaType = typeof mime === 'string' ? mime : undefined;
      content.push({
        type: mediaType?.startsWith('image/') ? 'image' : 'file',
        url: uri,
        ...(mediaType ? { mediaType } : {}),
      });
    } else if (fc !== undefined) {
      if (!isObj(fc) || typeof fc.name !== 'string' || !fc.name)
        throw badField(`${pat}.functionCall.name`, 'must be a non-empty string', isObj(fc) ? fc.name : fc);
      if (fc.args !== undefined && fc.args !== null && !isObj(fc.args))
        throw badField(`${pat}.functionCall.args`, 'must be an object', fc.args);
      toolCalls.push({
        id: calls.call(fc.name, typeof fc.id === 'string' ? fc.id : undefined),
        name: fc.name,
        arguments: JSON.stringify(fc.args ?? {}),
      });
    } else if (fr !== undefined) {
      if (!isObj(fr) || typeof fr.name !== 'string' || !fr.name)
        throw badField(
          `${pat}.functionResponse.name`,
          'must be a non-empty string',
          isObj(fr) ? fr.name : fr,
        );
      if (fr.response !== undefined && fr.response !== null && !isObj(fr.response))
        throw badField(`${pat}.functionResponse.response`, 'must be an object', fr.response);
      results.push({
        role: 'tool',
        content: [{ type: 'text', text: JSON.stringify(fr.response ?? {}) }],
        toolCallId: calls.answer(fr.name, typeof fr.id === 'string' ? fr.id : undefined),
        toolName: fr.name,
      });
    } else if (
      field(pt, 'executableCode') === undefined &&
      field(pt, 'codeExecutionResult') === undefined &&
      pt.thoughtSignature === undefined
    ) {
      throw badField(pat, 'must have text, inlineData, fileData, functionCall or functionResponse', pt);
    }
  }
  if (results.length) out.push(...results);
  if (content.length || toolCalls.length || results.length === 0)
    out.push({
      role: role === 'model' ? 'assistant' : 'user',
      content,
      ...(toolCalls.length ? { toolCalls } : {}),
    });
}

function decodeGenerationConfig(gc: Obj, at: string, req: ChatRequest): void {
  const num = (name: string) => {
    const v = field(gc, name);
    return v === undefined ? undefined : optNumber({ v }, 'v', `${at}.${name}`);
  };
  const int = (name: string, min: number) => {
    const v = field(gc, name);
    return v === undefined ? undefined : optInt({ v }, 'v', min, `${at}.${name}`);
  };
  const t = num('temperature');
  if (t !== undefined) req.temperature = t;
  const tp = num('topP');
  if (tp !== undefined) req.topP = tp;
  const tk = int('topK', 0);
  if (tk !== undefined) req.topK = tk;
  const max = int('maxOutputTokens', 1);
  if (max !== undefined) req.maxTokens = max;
  const seed = int('seed', Number.MIN_SAFE_INTEGER);
  if (seed !== undefined) req.seed = seed;
  const pp = num('presencePenalty');
  if (pp !== undefined) req.presencePenalty = pp;
  const fp = num('frequencyPenalty');
  if (fp !== undefined) req.frequencyPenalty = fp;
  const n = int('candidateCount', 1);
  if (n !== undefined) req.n = n;
  const stop = field(gc, 'stopSequences');
  if (stop !== undefined && stop !== null) {
    if (!Array.isArray(stop) || stop.length > MAX_STOPS || !stop.every((s) => typeof s === 'string'))
      throw badField(`${at}.stopSequences`, `must be an array of at most ${MAX_STOPS} strings`, stop);
    if (stop.length) req.stop = stop as string[];
  }
  const mime = field(gc, 'responseMimeType');
  if (mime !== undefined && mime !== null && typeof mime !== 'string')
    throw badField(`${at}.responseMimeType`, 'must be a string', mime);
  const jsonSchema = field(gc, 'responseJsonSchema') ?? field(gc, '_responseJsonSchema');
  const schema = field(gc, 'responseSchema');
  if (jsonSchema !== undefined && jsonSchema !== null && !isObj(jsonSchema))
    throw badField(`${at}.responseJsonSchema`, 'must be an object', jsonSchema);
  if (schema !== undefined && schema !== null && !isObj(schema))
    throw badField(`${at}.responseSchema`, 'must be an object', schema);
  if (isObj(jsonSchema)) req.responseFormat = { type: 'json_schema', name: 'response', schema: jsonSchema };
  else if (isObj(schema))
    req.responseFormat = { type: 'json_schema', name: 'response', schema: openApiToJsonSchema(schema, 0) };
  else if (mime === 'application/json') req.responseFormat = { type: 'json_object' };
  const thinking = field(gc, 'thinkingConfig');
  if (isObj(thinking)) {
    const budget = field(thinking, 'thinkingBudget');
    if (typeof budget === 'number' && Number.isInteger(budget) && budget >= 0) req.thinkingBudget = budget;
  }
}

const MAX_SCHEMA_DEPTH = 32;

/** Gemini's OpenAPI-subset Schema (type "OBJECT", nullable) → JSON Schema. */
export function openApiToJsonSchema(s: Obj, depth: number): JsonSchema {
  if (depth > MAX_SCHEMA_DEPTH) return {};
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type' && typeof v === 'string') out.type = v.toLowerCase();
    else if (k === 'properties' && isObj(v))
      out.properties = Object.fromEntries(
        Object.entries(v).map(([name, sub]) => [name, isObj(sub) ? openApiToJsonSchema(sub, depth + 1) : {}]),
      );
    else if (k === 'items' && isObj(v)) out.items = openApiToJsonSchema(v, depth + 1);
    else if (k === 'anyOf' && Array.isArray(v))
      out.anyOf = v.map((x) => (isObj(x) ? openApiToJsonSchema(x, depth + 1) : {}));
    else if (k === 'nullable' || k === 'propertyOrdering') continue;
    else out[k] = v;
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

const MAX_TOOLS = 512;

function decodeTools(v: unknown, at: string): ToolDefinition[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badField(at, 'must be an array of Tool objects', v);
  const out: ToolDefinition[] = [];
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    if (!isObj(t)) throw badField(`${at}[${i}]`, 'must be a Tool object', t);
    const decls = field(t, 'functionDeclarations');
    if (decls === undefined || decls === null) {
      throw badField(
        `${at}[${i}]`,
        'only functionDeclarations tools are supported through the gateway',
        Object.keys(t),
      );
    }
    if (!Array.isArray(decls)) throw badField(`${at}[${i}].functionDeclarations`, 'must be an array', decls);
    for (let j = 0; j < decls.length; j++) {
      const d = decls[j];
      const dat = `${at}[${i}].functionDeclarations[${j}]`;
      if (!isObj(d) || typeof d.name !== 'string' || !d.name)
        throw badField(`${dat}.name`, 'must be a non-empty string', isObj(d) ? d.name : d);
      const pj = field(d, 'parametersJsonSchema');
      const ps = d.parameters;
      if (pj !== undefined && pj !== null && !isObj(pj))
        throw badField(`${dat}.parametersJsonSchema`, 'must be an object', pj);
      if (ps !== undefined && ps !== null && !isObj(ps))
        throw badField(`${dat}.parameters`, 'must be an object', ps);
      const parameters = isObj(pj)
        ? pj
        : isObj(ps)
          ? openApiToJsonSchema(ps, 0)
          : { type: 'object', properties: {} };
      out.push({
        name: d.name,
        ...(typeof d.description === 'string' ? { description: d.description } : {}),
        parameters,
      });
      if (out.length > MAX_TOOLS)
        throw badField(at, `must declare at most ${MAX_TOOLS} functions`, out.length);
    }
  }
  return out;
}

function decodeToolConfig(v: unknown, at: string): ToolChoice | undefined {
  if (!isObj(v)) throw badField(at, 'must be an object', v);
  const fcc =
    optObject(v, 'functionCallingConfig', `${at}.functionCallingConfig`) ??
    optObject(v, 'function_calling_config', `${at}.functionCallingConfig`);
  if (!fcc) return undefined;
  const mode = fcc.mode ?? 'AUTO';
  const allowed = field(fcc, 'allowedFunctionNames');
  if (
    allowed !== undefined &&
    allowed !== null &&
    (!Array.isArray(allowed) || !allowed.every((s) => typeof s === 'string'))
  )
    throw badField(
      `${at}.functionCallingConfig.allowedFunctionNames`,
      'must be an array of strings',
      allowed,
    );
  switch (mode) {
    case 'AUTO':
    case 'MODE_UNSPECIFIED':
      return 'auto';
    case 'NONE':
      return 'none';
    case 'ANY':
    case 'VALIDATED': {
      const names = (allowed as string[] | undefined) ?? [];
      return names.length === 1 ? { name: names[0]! } : 'required';
    }
    default:
      throw badField(`${at}.functionCallingConfig.mode`, 'must be AUTO, ANY, NONE or VALIDATED', mode);
  }
}

/** countTokens: `contents` directly, or a whole `generateContentRequest`. */
export function decodeCountTokensBody(b: Obj, model: string): ChatRequest {
  const inner = field(b, 'generateContentRequest');
  if (inner !== undefined && inner !== null) {
    if (!isObj(inner)) throw badField('generateContentRequest', 'must be an object', inner);
    return decodeGenerateBody(inner, model, false, 'generateContentRequest');
  }
  return decodeGenerateBody(b, model, false);
}

const TASK_TYPES: Record<string, 'query' | 'document'> = {
  RETRIEVAL_QUERY: 'query',
  QUESTION_ANSWERING: 'query',
  CODE_RETRIEVAL_QUERY: 'query',
  RETRIEVAL_DOCUMENT: 'document',
  FACT_VERIFICATION: 'document',
};

/** embedContent: one Content, its text parts joined, into one vector. */
export function decodeEmbedBody(b: Obj, model: string, at = ''): EmbeddingsRequest {
  const p = (name: string) => (at ? `${at}.${name}` : name);
  const parts = textParts(b.content, p('content'));
  if (parts.length === 0)
    throw badField(p('content.parts'), 'must contain at least one text part', b.content);
  const req: EmbeddingsRequest = {
    op: 'embeddings',
    model,
    input: [parts.map((x) => (x.type === 'text' ? x.text : '')).join('\n')],
  };
  const dims = field(b, 'outputDimensionality');
  if (dims !== undefined && dims !== null) {
    const d = optInt({ d: dims }, 'd', 1, p('outputDimensionality'));
    if (d !== undefined) req.dimensions = d;
  }
  const task = field(b, 'taskType');
  if (task !== undefined && task !== null) {
    if (typeof task !== 'string') throw badField(p('taskType'), 'must be a string', task);
    const it = TASK_TYPES[task];
    if (it) req.inputType = it;
  }
  return req;
}

/** As Google's own limit. */
export const MAX_BATCH_EMBED = 100;

/**
 * batchEmbedContents (what @google/genai's embedContent calls): one text per
 * request, in order. Canonical embeddings carry one dimension and task type,
 * so every request must agree on them.
 */
export function decodeBatchEmbedBody(b: Obj, model: string): EmbeddingsRequest {
  const requests = b.requests;
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_BATCH_EMBED)
    throw badField('requests', `must be an array of 1 to ${MAX_BATCH_EMBED} EmbedContentRequest`, requests);
  let out: EmbeddingsRequest | undefined;
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const at = `requests[${i}]`;
    if (!isObj(r)) throw badField(at, 'must be an EmbedContentRequest object', r);
    const one = decodeEmbedBody(r, model, at);
    if (!out) {
      out = one;
      continue;
    }
    if (one.dimensions !== out.dimensions)
      throw badField(
        `${at}.outputDimensionality`,
        'must be the same in every request',
        r.outputDimensionality,
      );
    if (one.inputType !== out.inputType)
      throw badField(`${at}.taskType`, 'must be the same in every request', r.taskType);
    out.input.push(one.input[0]!);
  }
  return out!;
}

/** maxOutputTokens, for admission estimates (validated later by decode). */
export function maxOutputOf(b: Obj): number | undefined {
  const gc = field(b, 'generationConfig');
  const v = isObj(gc) ? field(gc, 'maxOutputTokens') : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
