import type { CanonicalOp, ChatRequest, WireFormat } from '../../gateway/canonical.js';
import type { UpstreamClient } from '../http/client.js';
import type {
  KeyEntry,
  Provider,
  ProviderCall,
  ProviderDefinition,
  StreamDecoder,
  UpstreamFailure,
  UpstreamResponse,
} from '../provider.js';
import { isObj, num, unsupported } from '../shared-parts.js';
import type { Cancel } from '../types.js';
import { classifyGoogleError } from './errors.js';
import { encodeBatchEmbed, encodeGenerateRequest } from './request.js';
import { parseEmbeddings, parseGenerateResponse } from './response.js';
import { GeminiStreamDecoder } from './stream.js';

const DEFAULT_ORIGIN = 'https://generativelanguage.googleapis.com';
const NATIVE: ReadonlySet<WireFormat> = new Set(['gemini.generate', 'gemini.embed', 'gemini.count_tokens']);
const MAX_MODEL_PAGES = 10;

/** The canonical completion request as a one-turn chat (Gemini has no text-completion endpoint). */
export function completionAsChat(
  c: Extract<ProviderCall['request'], { kind: 'canonical' }>['body'],
): ChatRequest {
  if (c.op === 'chat') return c;
  if (c.op === 'count_tokens') return c.chat;
  if (c.op !== 'completions') throw new Error('not a chat');
  return {
    op: 'chat',
    model: c.model,
    messages: [{ role: 'user', content: [{ type: 'text', text: c.prompt }] }],
    stream: c.stream,
    maxTokens: c.maxTokens,
    temperature: c.temperature,
    topP: c.topP,
    stop: c.stop,
  };
}

export function asCompletion(res: ReturnType<typeof parseGenerateResponse>) {
  const c = res.choices[0];
  let text = '';
  for (const p of c?.message.content ?? []) if (p.type === 'text') text += p.text;
  return {
    op: 'completions' as const,
    id: res.id,
    model: res.model,
    created: res.created,
    choices: [{ index: 0, text, finishReason: c?.finishReason ?? ('stop' as const) }],
    usage: res.usage,
  };
}

/** The Gemini API (generativelanguage.googleapis.com): `x-goog-api-key`. */
export class GeminiProvider implements Provider {
  readonly type = 'gemini' as const;
  readonly nativeFormats = NATIVE;
  private readonly origin: string;

  constructor(
    readonly name: string,
    baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {
    // The origin; a base URL given with its version path (…/v1beta) is tolerated.
    this.origin = (baseUrl ?? DEFAULT_ORIGIN).replace(/\/+$/, '').replace(/\/v1(beta)?$/, '');
  }

  supports(_op: CanonicalOp): boolean {
    return true;
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    const model = encodeURIComponent(call.model);
    let path: string;
    let body: Record<string, unknown>;
    if (r.kind === 'native') {
      body = r.body;
      const method =
        r.format === 'gemini.embed'
          ? 'embedContent'
          : r.format === 'gemini.count_tokens'
            ? 'countTokens'
            : r.format === 'gemini.generate'
              ? call.stream
                ? 'streamGenerateContent?alt=sse'
                : 'generateContent'
              : undefined;
      if (!method) throw unsupported(this.name, '(gemini) does not take this format');
      path = `/v1beta/models/${model}:${method}`;
    } else {
      const c = r.body;
      if (c.op === 'embeddings') {
        path = `/v1beta/models/${model}:batchEmbedContents`;
        body = encodeBatchEmbed({ ...c, model: call.model });
      } else if (c.op === 'count_tokens') {
        path = `/v1beta/models/${model}:countTokens`;
        body = {
          generateContentRequest: { model: `models/${call.model}`, ...encodeGenerateRequest(c.chat) },
        };
      } else {
        path = `/v1beta/models/${model}:${call.stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
        body = encodeGenerateRequest(completionAsChat(c));
      }
    }
    const headers: Record<string, string> = {};
    if (call.key.value) headers['x-goog-api-key'] = call.key.value;
    return this.http.send(
      { url: this.origin + path, headers, body: JSON.stringify(body), stream: call.stream },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer, model: string) {
    if (op === 'embeddings') return parseEmbeddings(body, model);
    if (op === 'count_tokens') return parseCountTokens(body);
    const res = parseGenerateResponse(body, model);
    return op === 'completions' ? asCompletion(res) : res;
  }

  streamDecoder(_op: CanonicalOp, model: string): StreamDecoder {
    return new GeminiStreamDecoder(model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer): UpstreamFailure {
    return classifyGoogleError(status, body);
  }

  async listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    const out: string[] = [];
    let token = '';
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const q = `pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`;
      const r = await this.http.send(
        {
          url: `${this.origin}/v1beta/models?${q}`,
          method: 'GET',
          headers: key.value ? { 'x-goog-api-key': key.value } : {},
          stream: false,
        },
        { signal, timeoutMs: 10_000, requestId: 'model-list' },
      );
      if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`model list answered ${r.status}`);
      const j = JSON.parse(r.body.toString('utf8')) as { models?: unknown; nextPageToken?: unknown };
      if (!Array.isArray(j.models)) throw new Error('model list without models');
      for (const m of j.models) {
        const name = isObj(m) && typeof m.name === 'string' ? m.name.replace(/^models\//, '') : '';
        if (name && name.length <= 256) out.push(name);
      }
      if (typeof j.nextPageToken !== 'string' || !j.nextPageToken) break;
      token = j.nextPageToken;
    }
    return out.slice(0, 5000);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export function parseCountTokens(body: Buffer) {
  const j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  return { op: 'count_tokens' as const, inputTokens: num(j.totalTokens) };
}

export const geminiProvider: ProviderDefinition = {
  type: 'gemini',
  api: 'Gemini API: generateContent, streamGenerateContent?alt=sse, batchEmbedContents, countTokens, GET models',
  auth: 'x-goog-api-key: <value>',
  defaultBaseUrl: DEFAULT_ORIGIN,
  create: (init) => new GeminiProvider(init.name, init.config.network_config.base_url, init.http),
};
