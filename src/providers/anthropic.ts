import { HttpUpstream } from './http-upstream.js';
import type {
  Operation,
  ProviderAdapter,
  ProviderRuntimeConfig,
  UpstreamCall,
  UpstreamResponse,
} from './types.js';

export const ANTHROPIC_VERSION = '2023-06-01';

/** Anthropic's native Messages API: `x-api-key`, `anthropic-version`. */
export class AnthropicProvider implements ProviderAdapter {
  readonly type = 'anthropic' as const;
  private readonly http: HttpUpstream;

  constructor(cfg: ProviderRuntimeConfig) {
    const base = cfg.network.base_url ?? 'https://api.anthropic.com';
    this.http = new HttpUpstream(base.replace(/\/v1\/?$/, ''), cfg.network);
  }

  supports(op: Operation): boolean {
    return op === 'messages';
  }

  send(call: UpstreamCall): Promise<UpstreamResponse> {
    return this.http.post(
      '/v1/messages',
      { 'x-api-key': call.key.value, 'anthropic-version': ANTHROPIC_VERSION },
      call,
    );
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
