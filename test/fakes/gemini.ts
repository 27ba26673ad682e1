import type { ServerResponse } from 'node:http';
import {
  argsFor,
  type BrainInput,
  embed,
  type FakeServer,
  imageInfo,
  json,
  parseJson,
  pieces,
  startFakeServer,
  takeFailure,
  think,
  tokensOf,
  writeStream,
} from './llm-brain.js';

/**
 * Contract fake of the Gemini API (generativelanguage.googleapis.com):
 * generateContent, streamGenerateContent (?alt=sse, CRLF-separated events,
 * as Google sends them; without alt a JSON array), countTokens, embedContent,
 * batchEmbedContents, GET models (paged) and GET models/{m}. The API key is
 * checked as Google checks it: `x-goog-api-key` or `?key=`, a wrong key is
 * 400 API_KEY_INVALID, none is 403. The generate handler is shared with the
 * Vertex fake (publisher models speak the same body).
 */

export const GEMINI_MODELS = [
  'gemini-2.5-flash',
  'gemini-2.5-pro',
  'gemini-2.0-flash',
  'text-embedding-004',
  'gemini-embedding-001',
];

export interface GeminiFakeOptions {
  apiKeys?: string[];
  models?: string[];
}

export function googleError(
  res: ServerResponse,
  code: number,
  status: string,
  message: string,
  reason?: string,
) {
  json(res, code, {
    error: {
      code,
      message,
      status,
      ...(reason && {
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }],
      }),
    },
  });
}

export async function startGeminiFake(opts: GeminiFakeOptions = {}): Promise<FakeServer> {
  const keys = new Set(opts.apiKeys ?? ['gemini-key-1']);
  const models = opts.models ?? GEMINI_MODELS;
  return startFakeServer(async (req, res, fake) => {
    const url = new URL(req.url, 'http://fake');
    const key =
      (req.headers['x-goog-api-key'] as string | undefined) ?? url.searchParams.get('key') ?? undefined;
    if (key === undefined) {
      return googleError(
        res,
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    }
    if (!keys.has(key))
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        'API key not valid. Please pass a valid API key.',
        'API_KEY_INVALID',
      );
    const forced = takeFailure(fake);
    if (forced === 429)
      return googleError(
        res,
        429,
        'RESOURCE_EXHAUSTED',
        'You exceeded your current quota, please check your plan and billing details.',
      );
    if (forced)
      return googleError(res, forced, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    const m = /^\/(v1beta|v1)\/models(?:\/([^/:]+)(?::([A-Za-z]+))?)?$/.exec(url.pathname);
    if (!m) return googleError(res, 404, 'NOT_FOUND', `Requested entity was not found.`);
    const [, version, model, method] = m;
    if (req.method === 'GET' && !method) {
      if (model) {
        return models.includes(model)
          ? json(res, 200, modelInfo(model))
          : googleError(res, 404, 'NOT_FOUND', `models/${model} is not found for API version ${version}`);
      }
      const size = Math.min(1000, Number(url.searchParams.get('pageSize') ?? 50) || 50);
      const start = Number(url.searchParams.get('pageToken') ?? 0) || 0;
      const page = models.slice(start, start + size).map(modelInfo);
      return json(res, 200, {
        models: page,
        ...(start + size < models.length && { nextPageToken: String(start + size) }),
      });
    }
    if (req.method !== 'POST' || !model || !method)
      return googleError(res, 404, 'NOT_FOUND', 'Requested entity was not found.');
    if (!models.includes(model)) {
      return googleError(
        res,
        404,
        'NOT_FOUND',
        `models/${model} is not found for API version ${version}, or is not supported for ${method}.`,
      );
    }
    const body = parseJson(req.body);
    if (!body) return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    switch (method) {
      case 'generateContent':
      case 'streamGenerateContent':
        return generate(
          model,
          method === 'streamGenerateContent',
          url.searchParams.get('alt') === 'sse',
          body,
          res,
          fake,
        );
      case 'countTokens': {
        const inner = (body.generateContentRequest as Record<string, unknown> | undefined) ?? body;
        const text = JSON.stringify(inner.contents ?? []);
        return json(res, 200, { totalTokens: tokensOf(text) });
      }
      case 'embedContent': {
        const r = embedOne(body);
        return typeof r === 'string'
          ? googleError(res, 400, 'INVALID_ARGUMENT', r)
          : json(res, 200, { embedding: r });
      }
      case 'batchEmbedContents': {
        const reqs = body.requests;
        if (!Array.isArray(reqs) || reqs.length === 0 || reqs.length > 100) {
          return googleError(
            res,
            400,
            'INVALID_ARGUMENT',
            '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch',
          );
        }
        const out = [];
        for (const r of reqs as Record<string, unknown>[]) {
          if (r.model !== `models/${model}`) {
            return googleError(
              res,
              400,
              'INVALID_ARGUMENT',
              `* BatchEmbedContentsRequest.model: model in each request must be models/${model}`,
            );
          }
          const e = embedOne(r);
          if (typeof e === 'string') return googleError(res, 400, 'INVALID_ARGUMENT', e);
          out.push(e);
        }
        return json(res, 200, { embeddings: out });
      }
      default:
        return googleError(res, 404, 'NOT_FOUND', `Method ${method} not found.`);
    }
  });
}

function modelInfo(model: string) {
  const embedding = model.includes('embedding');
  return {
    name: `models/${model}`,
    version: '001',
    displayName: model,
    description: `Fake ${model}`,
    inputTokenLimit: embedding ? 2048 : 1048576,
    outputTokenLimit: embedding ? 1 : 65536,
    supportedGenerationMethods: embedding
      ? ['embedContent', 'batchEmbedContents']
      : ['generateContent', 'countTokens'],
  };
}

function embedOne(body: Record<string, unknown>): { values: number[] } | string {
  const parts = (body.content as { parts?: { text?: string }[] } | undefined)?.parts;
  if (!Array.isArray(parts) || parts.length === 0)
    return '* EmbedContentRequest.content: contents is not specified';
  const dims = body.outputDimensionality === undefined ? 768 : Number(body.outputDimensionality);
  if (!Number.isInteger(dims) || dims < 1 || dims > 3072)
    return '* EmbedContentRequest.output_dimensionality: out of range';
  return { values: embed(parts.map((p) => p.text ?? '').join(''), dims) };
}

interface Part {
  text?: string;
  inlineData?: { mimeType?: string; data?: string };
  functionCall?: { name: string; args?: unknown };
  functionResponse?: { name: string; response?: unknown };
}

export function geminiInput(body: Record<string, unknown>): BrainInput | string {
  const contents = body.contents as { role?: string; parts?: Part[] }[] | undefined;
  if (!Array.isArray(contents) || contents.length === 0)
    return '* GenerateContentRequest.contents: contents is not specified';
  for (const [i, c] of contents.entries()) {
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model' && c.role !== 'function') {
      return `Please use a valid role: user, model.`;
    }
  }
  const last = contents[contents.length - 1]!;
  const texts: string[] = [];
  const images: BrainInput['images'] = [];
  let toolResult: string | undefined;
  for (const p of last.parts!) {
    if (typeof p.text === 'string') texts.push(p.text);
    else if (p.inlineData) {
      if (!p.inlineData.mimeType || !p.inlineData.data)
        return '* GenerateContentRequest.contents.parts.inline_data: mime_type and data are required';
      images.push(imageInfo(p.inlineData.mimeType, p.inlineData.data));
    } else if (p.functionResponse) toolResult = JSON.stringify(p.functionResponse.response ?? {});
  }
  const decls = (
    (body.tools as {
      functionDeclarations?: { name: string; parameters?: unknown; parametersJsonSchema?: unknown }[];
    }[]) ?? []
  )
    .flatMap((t) => t.functionDeclarations ?? [])
    .map((d) => ({ name: d.name, schema: d.parametersJsonSchema ?? lowerSchema(d.parameters) }));
  const fc = (
    body.toolConfig as
      | { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } }
      | undefined
  )?.functionCallingConfig;
  const toolChoice: BrainInput['toolChoice'] =
    fc?.mode === 'NONE'
      ? 'none'
      : fc?.mode === 'ANY' && fc.allowedFunctionNames?.length === 1
        ? { name: fc.allowedFunctionNames[0]! }
        : fc?.mode === 'ANY'
          ? 'required'
          : 'auto';
  const sys = (body.systemInstruction as { parts?: Part[] } | undefined)?.parts
    ?.map((p) => p.text ?? '')
    .join('\n');
  return { text: texts.join('\n'), images, tools: decls, toolChoice, toolResult, system: sys };
}

/** Gemini's OpenAPI-subset schemas use upper-case type names (STRING, OBJECT). */
function lowerSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(lowerSchema);
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s))
    out[k] = k === 'type' && typeof v === 'string' ? v.toLowerCase() : lowerSchema(v);
  return out;
}

/** generateContent / streamGenerateContent for Gemini and Vertex's Google publisher models. */
export async function generate(
  model: string,
  stream: boolean,
  sse: boolean,
  body: Record<string, unknown>,
  res: ServerResponse,
  fake: FakeServer,
): Promise<void> {
  const input = geminiInput(body);
  if (typeof input === 'string') return googleError(res, 400, 'INVALID_ARGUMENT', input);
  const gc = (body.generationConfig ?? {}) as {
    responseMimeType?: string;
    responseSchema?: unknown;
    responseJsonSchema?: unknown;
  };
  let out = think(input);
  if (out.kind === 'text' && gc.responseMimeType === 'application/json') {
    out = {
      kind: 'text',
      text: JSON.stringify(argsFor(gc.responseJsonSchema ?? lowerSchema(gc.responseSchema))),
    };
  }
  const promptTokenCount = tokensOf(input.text + (input.system ?? ''));
  const outText = out.kind === 'text' ? out.text : JSON.stringify(out.args);
  const candidatesTokenCount = tokensOf(outText);
  const usageMetadata = {
    promptTokenCount,
    candidatesTokenCount,
    totalTokenCount: promptTokenCount + candidatesTokenCount,
  };
  const base = { modelVersion: model, responseId: 'fake-response-id' };
  if (!stream) {
    const parts =
      out.kind === 'text' ? [{ text: out.text }] : [{ functionCall: { name: out.name, args: out.args } }];
    return json(res, 200, {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
      usageMetadata,
      ...base,
    });
  }
  const chunks: unknown[] = [];
  if (out.kind === 'text') {
    const ps = pieces(out.text);
    ps.forEach((t, i) => {
      const last = i === ps.length - 1;
      chunks.push({
        candidates: [
          {
            content: { role: 'model', parts: [{ text: t }] },
            index: 0,
            ...(last && { finishReason: 'STOP' }),
          },
        ],
        usageMetadata: last ? usageMetadata : { promptTokenCount, totalTokenCount: promptTokenCount },
        ...base,
      });
    });
  } else {
    // Gemini sends a function call whole, in one chunk.
    chunks.push({
      candidates: [
        {
          content: { role: 'model', parts: [{ functionCall: { name: out.name, args: out.args } }] },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      usageMetadata,
      ...base,
    });
  }
  if (!sse) return json(res, 200, chunks);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeStream(
    res,
    fake,
    chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`),
  );
}
