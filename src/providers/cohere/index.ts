import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { asCompletion, completionAsChat } from '../gemini/index.js';
import type { UpstreamClient } from '../http/client.js';
import { classifyByStatus } from '../http/errors.js';
import type {
  KeyEntry,
  Provider,
  ProviderCall,
  ProviderDefinition,
  StreamDecoder,
  UpstreamResponse,
} from '../provider.js';
import { unsupported } from '../shared-parts.js';
import type { Cancel } from '../types.js';
import { listCohereModels } from './models.js';
import { encodeCohereChat, encodeCohereEmbed } from './request.js';
import { parseCohereChat, parseCohereEmbed } from './response.js';
import { CohereStreamDecoder } from './stream.js';

const DEFAULT_ORIGIN = 'https://api.cohere.com';
const NATIVE: ReadonlySet<WireFormat> = new Set();

/** Cohere v2: /v2/chat (JSON and stream), /v2/embed; `Authorization: Bearer`. */
export class CohereProvider implements Provider {
  readonly type = 'cohere' as const;
  readonly nativeFormats = NATIVE;
  private readonly origin: string;

  constructor(
    readonly name: string,
    baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {
    this.origin = (baseUrl ?? DEFAULT_ORIGIN).replace(/\/+$/, '').replace(/\/v[12]$/, '');
  }

  supports(op: CanonicalOp): boolean {
    return op !== 'count_tokens';
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    if (r.kind !== 'canonical') throw unsupported(this.name, '(cohere) has no pass-through format');
    const c = r.body;
    if (c.op === 'count_tokens') throw unsupported(this.name, '(cohere) has no token counting');
    const [path, body] =
      c.op === 'embeddings'
        ? ['/v2/embed', encodeCohereEmbed({ ...c, model: call.model })]
        : ['/v2/chat', encodeCohereChat({ ...completionAsChat(c), model: call.model })];
    const headers: Record<string, string> = {};
    if (call.key.value) headers.authorization = `Bearer ${call.key.value}`;
    return this.http.send(
      { url: this.origin + path, headers, body: JSON.stringify(body), stream: call.stream },
      call,
    );
  }

  parseResponse(op: CanonicalOp, body: Buffer, model: string) {
    if (op === 'embeddings') return parseCohereEmbed(body, model);
    const res = parseCohereChat(body, model);
    return op === 'completions' ? asCompletion(res) : res;
  }

  streamDecoder(_op: CanonicalOp, model: string): StreamDecoder {
    return new CohereStreamDecoder(model, this.http.maxEventBytes);
  }

  classifyError(status: number, body: Buffer) {
    return classifyByStatus(status, body);
  }

  listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    return listCohereModels(this.http, this.origin, key, signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const cohereProvider: ProviderDefinition = {
  type: 'cohere',
  api: 'Cohere v2: /v2/chat (JSON and stream), /v2/embed',
  auth: 'Authorization: Bearer <value>',
  defaultBaseUrl: DEFAULT_ORIGIN,
  create: (init) => new CohereProvider(init.name, init.config.network_config.base_url, init.http),
};
