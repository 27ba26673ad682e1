import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { HttpError } from '../../server/errors.js';
import type { UpstreamClient } from '../http/client.js';
import { classifyByStatus } from '../http/errors.js';
import { encodeChatRequest, encodeCompletionRequest, encodeEmbeddingsRequest } from '../openai/request.js';
import { parseOpenAIResponse } from '../openai/response.js';
import { OpenAIStreamDecoder } from '../openai/stream.js';
import type {
  KeyEntry,
  Provider,
  ProviderCall,
  ProviderDefinition,
  StreamDecoder,
  UpstreamFailure,
  UpstreamResponse,
} from '../provider.js';
import type { Cancel } from '../types.js';
import type { AzureKeyConfig } from './config.js';
import { type AzureOperation, azureAuthHeaders, azureModelsPath, azureTarget } from './endpoint.js';

const NATIVE: ReadonlySet<WireFormat> = new Set(['openai.chat', 'openai.completions', 'openai.embeddings']);
const NATIVE_OP: Partial<Record<WireFormat, AzureOperation>> = {
  'openai.chat': 'chat',
  'openai.completions': 'completions',
  'openai.embeddings': 'embeddings',
};

/**
 * Azure OpenAI: OpenAI's bodies, Azure's addressing. Each key names its
 * resource (`azure_key_config.endpoint`), API version and deployments; a
 * dated version uses `/openai/deployments/{d}/…?api-version=`, "v1" the v1
 * API with the deployment as `model`.
 */
export class AzureProvider implements Provider {
  readonly type = 'azure' as const;
  readonly nativeFormats = NATIVE;

  constructor(
    readonly name: string,
    private readonly baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {}

  supports(op: CanonicalOp): boolean {
    return op !== 'count_tokens';
  }

  private keyConfig(key: KeyEntry): AzureKeyConfig {
    const c = key.config.azure_key_config;
    if (c) return c;
    if (this.baseUrl) return { endpoint: this.baseUrl, api_version: '2024-10-21', deployments: {} };
    throw new HttpError(
      500,
      `provider "${this.name}" key "${key.name}" has no azure_key_config.endpoint`,
      'api_error',
      'provider_misconfigured',
    );
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    let op: AzureOperation | undefined;
    let body: Record<string, unknown>;
    if (r.kind === 'native') {
      op = NATIVE_OP[r.format];
      body = { ...r.body };
    } else {
      const c = r.body;
      op = c.op === 'count_tokens' ? undefined : c.op;
      body =
        c.op === 'chat'
          ? encodeChatRequest(c)
          : c.op === 'completions'
            ? encodeCompletionRequest(c)
            : c.op === 'embeddings'
              ? encodeEmbeddingsRequest(c)
              : {};
    }
    if (!op)
      throw new HttpError(
        400,
        `provider "${this.name}" (azure) does not serve this operation`,
        'invalid_request_error',
        'unsupported_operation',
      );
    const target = azureTarget(this.keyConfig(call.key), call.model, op);
    if (target.bodyModel === undefined) delete body.model;
    else body.model = target.bodyModel;
    return this.http.send(
      {
        url: target.origin + target.path,
        headers: azureAuthHeaders(call.key.value),
        body: JSON.stringify(body),
        stream: call.stream,
      },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer) {
    return parseOpenAIResponse(op, body);
  }

  streamDecoder(op: CanonicalOp, model: string): StreamDecoder {
    return new OpenAIStreamDecoder(op, model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer): UpstreamFailure {
    const f = classifyByStatus(status, body);
    // Azure: 404 DeploymentNotFound is the (key, model) pair, not the request.
    if (status === 404 && f.code === 'DeploymentNotFound') return { ...f, kind: 'model_refused' };
    // The content filter is the request's fault, whatever status it came with.
    if (f.code === 'content_filter') return { ...f, kind: 'request' };
    return f;
  }

  async listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    const cfg = this.keyConfig(key);
    const r = await this.http.send(
      {
        url: new URL(cfg.endpoint).origin + azureModelsPath(cfg),
        method: 'GET',
        headers: azureAuthHeaders(key.value),
        stream: false,
      },
      { signal, timeoutMs: 10_000, requestId: 'model-list' },
    );
    if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`model list answered ${r.status}`);
    const j = JSON.parse(r.body.toString('utf8')) as { data?: unknown };
    if (!Array.isArray(j.data)) throw new Error('model list without data');
    // The deployments a key names are what clients address; the resource's catalogue comes after.
    const ids = Object.keys(cfg.deployments);
    for (const m of j.data) {
      const id = (m as { id?: unknown } | null)?.id;
      if (typeof id === 'string' && id.length > 0 && id.length <= 256) ids.push(id);
    }
    return [...new Set(ids)].slice(0, 5000);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const azureProvider: ProviderDefinition = {
  type: 'azure',
  api: 'Azure OpenAI: classic deployments (/openai/deployments/{d}/…?api-version=) and the v1 API (/openai/v1/…)',
  auth: 'api-key: <value>',
  create: (init) => new AzureProvider(init.name, init.config.network_config.base_url, init.http),
};
