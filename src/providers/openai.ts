import { HttpUpstream } from './http-upstream.js';
import type {
  Operation,
  ProviderAdapter,
  ProviderRuntimeConfig,
  UpstreamCall,
  UpstreamResponse,
} from './types.js';

const PATHS: Record<Operation, string | undefined> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  messages: undefined,
};

/** Any OpenAI-compatible server: `Authorization: Bearer <key>`, paths /v1/... */
export class OpenAIProvider implements ProviderAdapter {
  readonly type = 'openai' as const;
  private readonly http: HttpUpstream;

  constructor(cfg: ProviderRuntimeConfig) {
    const base = cfg.network.base_url ?? 'https://api.openai.com';
    // Accept base URLs given with or without the /v1 suffix.
    this.http = new HttpUpstream(base.replace(/\/v1\/?$/, ''), cfg.network);
  }

  supports(op: Operation): boolean {
    return PATHS[op] !== undefined;
  }

  send(call: UpstreamCall): Promise<UpstreamResponse> {
    return this.http.post(PATHS[call.op]!, { authorization: `Bearer ${call.key.value}` }, call);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
