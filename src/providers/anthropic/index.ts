import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { HttpError } from '../../server/errors.js';
import type { UpstreamClient } from '../http/client.js';
import { classifyByStatus } from '../http/errors.js';
import type {
  KeyEntry,
  Provider,
  ProviderCall,
  ProviderDefinition,
  StreamDecoder,
  UpstreamFailure,
  UpstreamResponse,
} from '../provider.js';
import type { ProviderType } from '../provider-types.js';
import type { Cancel } from '../types.js';
import { encodeMessagesRequest } from './request.js';
import { parseMessagesResponse } from './response.js';
import { AnthropicStreamDecoder } from './stream.js';

export const ANTHROPIC_VERSION = '2023-06-01';
const DEFAULT_ORIGIN = 'https://api.anthropic.com';
const NATIVE: ReadonlySet<WireFormat> = new Set(['anthropic.messages', 'anthropic.count_tokens']);

/** Anthropic's Messages API: `x-api-key`, `anthropic-version`. */
export class AnthropicProvider implements Provider {
  readonly type: ProviderType = 'anthropic';
  readonly nativeFormats = NATIVE;
  private readonly origin: string;

  constructor(
    readonly name: string,
    baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {
    // The origin (a trailing /v1 tolerated): paths are appended.
    this.origin = (baseUrl ?? DEFAULT_ORIGIN).replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  supports(op: CanonicalOp): boolean {
    return op === 'chat' || op === 'count_tokens' || op === 'completions';
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    let path = '/v1/messages';
    let body: Record<string, unknown>;
    if (r.kind === 'native') {
      body = r.body;
      if (r.format === 'anthropic.count_tokens') path = '/v1/messages/count_tokens';
    } else {
      const c = r.body;
      if (c.op === 'chat') body = encodeMessagesRequest(c);
      else if (c.op === 'count_tokens') {
        path = '/v1/messages/count_tokens';
        body = encodeMessagesRequest({ ...c.chat, stream: false });
        delete body.max_tokens;
      } else if (c.op === 'completions')
        body = encodeMessagesRequest({
          op: 'chat',
          model: c.model,
          messages: [{ role: 'user', content: [{ type: 'text', text: c.prompt }] }],
          stream: c.stream,
          maxTokens: c.maxTokens,
          temperature: c.temperature,
          topP: c.topP,
          stop: c.stop,
        });
      else
        throw new HttpError(
          400,
          `provider "${this.name}" (anthropic) has no embeddings`,
          'invalid_request_error',
          'unsupported_operation',
        );
    }
    const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (call.key.value) headers['x-api-key'] = call.key.value;
    return this.http.send(
      { url: this.origin + path, headers, body: JSON.stringify(body), stream: call.stream },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer) {
    const res = parseMessagesResponse(op === 'completions' ? 'chat' : op, body);
    if (op !== 'completions' || res.op !== 'chat') return res;
    const c = res.choices[0];
    let text = '';
    for (const p of c?.message.content ?? []) if (p.type === 'text') text += p.text;
    return {
      op: 'completions' as const,
      id: res.id,
      model: res.model,
      created: res.created,
      choices: [{ index: 0, text, finishReason: c?.finishReason ?? 'stop' }],
      usage: res.usage,
    };
  }

  streamDecoder(_op: CanonicalOp, model: string): StreamDecoder {
    return new AnthropicStreamDecoder(model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer): UpstreamFailure {
    const f = classifyByStatus(status, body);
    // Anthropic: 529 overloaded_error; 403 permission_error is key-scoped unless it names a model.
    if (status === 529) return { ...f, kind: 'overloaded' };
    return f;
  }

  async listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (key.value) headers['x-api-key'] = key.value;
    const r = await this.http.send(
      { url: `${this.origin}/v1/models?limit=1000`, method: 'GET', headers, stream: false },
      { signal, timeoutMs: 10_000, requestId: 'model-list' },
    );
    if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`model list answered ${r.status}`);
    const j = JSON.parse(r.body.toString('utf8')) as { data?: unknown };
    if (!Array.isArray(j.data)) throw new Error('model list without data');
    return j.data
      .map((m) => (m as { id?: unknown } | null)?.id)
      .filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 256)
      .slice(0, 5000);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const anthropicProvider: ProviderDefinition = {
  type: 'anthropic',
  api: 'Anthropic Messages',
  auth: 'x-api-key: <value>',
  defaultBaseUrl: DEFAULT_ORIGIN,
  create: (init) => new AnthropicProvider(init.name, init.config.network_config.base_url, init.http),
};
