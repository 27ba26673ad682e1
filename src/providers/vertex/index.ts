import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { encodeMessagesRequest } from '../anthropic/request.js';
import { parseMessagesResponse } from '../anthropic/response.js';
import { AnthropicStreamDecoder } from '../anthropic/stream.js';
import { classifyGoogleError } from '../gemini/errors.js';
import { asCompletion, completionAsChat, parseCountTokens } from '../gemini/index.js';
import { encodeGenerateRequest } from '../gemini/request.js';
import { parseEmbeddings, parseGenerateResponse } from '../gemini/response.js';
import { GeminiStreamDecoder } from '../gemini/stream.js';
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
import { unsupported } from '../shared-parts.js';
import type { Cancel } from '../types.js';
import { ServiceAccountTokenSource, TokenError } from './auth.js';
import { parseServiceAccount, vertexBaseUrl } from './config.js';
import { listVertexModels } from './models.js';

const NATIVE: ReadonlySet<WireFormat> = new Set();
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

const isClaude = (model: string) => model.startsWith('claude');

/**
 * Vertex AI: Google publisher models (Gemini bodies) and Anthropic publisher
 * models (Messages bodies through rawPredict / streamRawPredict), with an
 * OAuth2 access token minted per service account (JWT-bearer grant to the
 * account's own token_uri) and cached until shortly before it expires.
 */
export class VertexProvider implements Provider {
  readonly type = 'vertex' as const;
  readonly nativeFormats = NATIVE;
  /** One token source per service account (keys may share one). */
  private readonly tokens = new Map<string, ServiceAccountTokenSource>();

  constructor(
    readonly name: string,
    private readonly baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {}

  supports(_op: CanonicalOp): boolean {
    return true;
  }

  private tokenSource(json: string): ServiceAccountTokenSource {
    let t = this.tokens.get(json);
    if (!t) {
      t = new ServiceAccountTokenSource(parseServiceAccount(json));
      if (this.tokens.size >= 64) this.tokens.clear();
      this.tokens.set(json, t);
    }
    return t;
  }

  async send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    if (r.kind !== 'canonical') throw unsupported(this.name, '(vertex) has no pass-through format');
    const cfg = call.key.config.vertex_key_config;
    if (!cfg) throw unsupported(this.name, `key "${call.key.name}" has no vertex_key_config`);
    let token: string;
    try {
      token = await this.tokenSource(cfg.auth_credentials).token();
    } catch (e) {
      // A token the grant will not give is the key's failure: answered as a 401 so the key cools down.
      const retryable = e instanceof TokenError && e.retryable;
      const status = retryable ? 503 : 401;
      return {
        status,
        headers: {},
        body: Buffer.from(
          JSON.stringify({
            error: { code: status, message: (e as Error).message, status: 'UNAUTHENTICATED' },
          }),
        ),
      };
    }
    const origin = (this.baseUrl ?? vertexBaseUrl(cfg.region)).replace(/\/+$/, '');
    const c = r.body;
    const claude = isClaude(call.model);
    const publisher = claude ? 'anthropic' : 'google';
    const base = `${origin}/v1/projects/${encodeURIComponent(cfg.project_id)}/locations/${encodeURIComponent(cfg.region)}/publishers/${publisher}/models/${encodeURIComponent(call.model)}`;
    let url: string;
    let body: Record<string, unknown>;
    if (c.op === 'embeddings') {
      if (claude) throw unsupported(this.name, '(vertex) has no embeddings for Claude models');
      url = `${base}:predict`;
      body = {
        instances: c.input.map((content) => ({
          content,
          ...(c.inputType
            ? { task_type: c.inputType === 'query' ? 'RETRIEVAL_QUERY' : 'RETRIEVAL_DOCUMENT' }
            : {}),
        })),
        ...(c.dimensions !== undefined ? { parameters: { outputDimensionality: c.dimensions } } : {}),
      };
    } else if (c.op === 'count_tokens') {
      if (claude) throw unsupported(this.name, '(vertex) counts tokens for Gemini models only');
      url = `${base}:countTokens`;
      body = { contents: encodeGenerateRequest(c.chat).contents };
    } else if (claude) {
      url = `${base}:${call.stream ? 'streamRawPredict' : 'rawPredict'}`;
      body = encodeMessagesRequest(completionAsChat(c));
      delete body.model;
      body.anthropic_version = VERTEX_ANTHROPIC_VERSION;
    } else {
      url = `${base}:${call.stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
      body = encodeGenerateRequest(completionAsChat(c));
    }
    return this.http.send(
      { url, headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body), stream: call.stream },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer, model: string) {
    if (op === 'embeddings') return parseEmbeddings(body, model);
    if (op === 'count_tokens') return parseCountTokens(body);
    if (isClaude(model)) {
      const res = parseMessagesResponse('chat', body);
      return op === 'completions' && res.op === 'chat' ? asCompletion(res) : res;
    }
    const res = parseGenerateResponse(body, model);
    return op === 'completions' ? asCompletion(res) : res;
  }

  streamDecoder(_op: CanonicalOp, model: string): StreamDecoder {
    return isClaude(model)
      ? new AnthropicStreamDecoder(model, this.http.maxEventBytes)
      : new GeminiStreamDecoder(model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer): UpstreamFailure {
    const f = classifyGoogleError(status, body);
    if (status === 529) return { ...f, kind: 'overloaded' };
    return f;
  }

  async listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    const cfg = key.config.vertex_key_config;
    if (!cfg) return [];
    const token = await this.tokenSource(cfg.auth_credentials).token();
    const origin = (this.baseUrl ?? vertexBaseUrl(cfg.region)).replace(/\/+$/, '');
    return listVertexModels(this.http, origin, token, signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const vertexProvider: ProviderDefinition = {
  type: 'vertex',
  api: 'Vertex AI: Gemini models (publishers/google …:generateContent, :streamGenerateContent) and Claude models (publishers/anthropic …:rawPredict, :streamRawPredict)',
  auth: 'OAuth2 access token from the service-account JSON in vertex_key_config.auth_credentials (JWT-bearer grant to its token_uri), cached',
  defaultBaseUrl: 'https://{region}-aiplatform.googleapis.com',
  create: (init) => new VertexProvider(init.name, init.config.network_config.base_url, init.http),
};
