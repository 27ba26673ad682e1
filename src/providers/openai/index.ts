import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { HttpError } from '../../server/errors.js';
import type { UpstreamClient } from '../http/client.js';
import { classifyByStatus } from '../http/errors.js';
import { OPENAI_PRESET, openaiApiRoot, type Preset } from '../presets.js';
import type {
  KeyEntry,
  Provider,
  ProviderCall,
  ProviderDefinition,
  ProviderInit,
  StreamDecoder,
  UpstreamResponse,
} from '../provider.js';
import type { ProviderType } from '../provider-types.js';
import type { Cancel } from '../types.js';
import { listOpenAIModels } from './models.js';
import { encodeChatRequest, encodeCompletionRequest, encodeEmbeddingsRequest } from './request.js';
import { parseOpenAIResponse } from './response.js';
import { OpenAIStreamDecoder } from './stream.js';

const PATHS: Record<CanonicalOp, string | undefined> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  count_tokens: undefined,
};
const NATIVE_PATHS: Partial<Record<WireFormat, string>> = {
  'openai.chat': '/chat/completions',
  'openai.completions': '/completions',
  'openai.embeddings': '/embeddings',
  'openai.responses': '/responses',
};

/** OpenAI and every OpenAI-compatible server (the presets). */
export class OpenAIProvider implements Provider {
  readonly nativeFormats: ReadonlySet<WireFormat>;
  private readonly root: string;

  constructor(
    readonly name: string,
    readonly type: ProviderType,
    private readonly preset: Preset,
    baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {
    const root = openaiApiRoot(baseUrl, preset);
    if (!root) throw new Error('network_config.base_url is required for this provider type');
    this.root = root;
    const formats: WireFormat[] = ['openai.chat'];
    if (preset.completions) formats.push('openai.completions');
    if (preset.embeddings) formats.push('openai.embeddings');
    if (preset.responses) formats.push('openai.responses');
    this.nativeFormats = new Set(formats);
  }

  supports(op: CanonicalOp): boolean {
    if (op === 'embeddings') return this.preset.embeddings;
    return op !== 'count_tokens';
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    let path: string | undefined;
    let body: Record<string, unknown>;
    const r = call.request;
    if (r.kind === 'native') {
      path = NATIVE_PATHS[r.format];
      body = r.body;
    } else {
      const c = r.body;
      if (c.op === 'completions' && !this.preset.completions)
        throw new HttpError(
          400,
          `provider "${this.name}" has no completions endpoint`,
          'invalid_request_error',
          'unsupported_operation',
        );
      path = PATHS[c.op];
      body =
        c.op === 'chat'
          ? encodeChatRequest(c)
          : c.op === 'completions'
            ? encodeCompletionRequest(c)
            : c.op === 'embeddings'
              ? encodeEmbeddingsRequest(c)
              : {};
    }
    if (!path)
      throw new HttpError(
        400,
        `provider "${this.name}" does not serve this operation`,
        'invalid_request_error',
        'unsupported_operation',
      );
    const headers: Record<string, string> = {};
    if (call.key.value) headers.authorization = `Bearer ${call.key.value}`;
    return this.http.send(
      { url: this.root + path, headers, body: JSON.stringify(body), stream: call.stream },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer) {
    return parseOpenAIResponse(op, body);
  }

  streamDecoder(op: CanonicalOp, model: string): StreamDecoder {
    return new OpenAIStreamDecoder(op, model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer) {
    return classifyByStatus(status, body);
  }

  listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    return listOpenAIModels(this.http, this.root, key, signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const openaiProvider: ProviderDefinition = {
  type: 'openai',
  api: 'OpenAI REST (and every OpenAI-compatible server through the presets)',
  auth: 'Authorization: Bearer <value>',
  defaultBaseUrl: OPENAI_PRESET.baseUrl,
  create: (init: ProviderInit) =>
    new OpenAIProvider(
      init.name,
      init.type,
      init.preset ?? OPENAI_PRESET,
      init.config.network_config.base_url,
      init.http,
    ),
};
