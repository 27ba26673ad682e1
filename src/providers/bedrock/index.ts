import type { CanonicalOp, EmbeddingsRequest, WireFormat } from '../../gateway/canonical.js';
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
import { unsupported } from '../shared-parts.js';
import type { Cancel } from '../types.js';
import { type BedrockAuth, bedrockAuthFor } from './auth.js';
import { bedrockBaseUrl } from './config.js';
import { bedrockControlOrigin, listBedrockModels } from './models.js';
import { embeddingFamily, encodeConverseRequest } from './request.js';
import { parseBedrockEmbeddings, parseConverseResponse } from './response.js';
import { BedrockStreamDecoder } from './stream.js';

const NATIVE: ReadonlySet<WireFormat> = new Set();
const EVENT_STREAM = 'application/vnd.amazon.eventstream';

/**
 * AWS Bedrock Runtime: Converse / ConverseStream for chat (every model
 * family, one body), InvokeModel for Titan and Cohere embeddings. SigV4 per
 * key (or a Bedrock API key as Bearer); the model may be a deployment alias
 * for an inference profile or ARN.
 */
export class BedrockProvider implements Provider {
  readonly type = 'bedrock' as const;
  readonly nativeFormats = NATIVE;
  private readonly auths = new WeakMap<KeyEntry, BedrockAuth>();

  constructor(
    readonly name: string,
    private readonly baseUrl: string | undefined,
    private readonly http: UpstreamClient,
  ) {}

  supports(op: CanonicalOp): boolean {
    return op === 'chat' || op === 'completions' || op === 'embeddings';
  }

  private auth(key: KeyEntry): BedrockAuth {
    let a = this.auths.get(key);
    if (!a) {
      a = bedrockAuthFor(key.value || undefined, keyConfig(key));
      this.auths.set(key, a);
    }
    return a;
  }

  private origin(key: KeyEntry): string {
    return (this.baseUrl ?? bedrockBaseUrl(keyConfig(key).region)).replace(/\/+$/, '');
  }

  async send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    if (r.kind !== 'canonical') throw unsupported(this.name, '(bedrock) has no pass-through format');
    const c = r.body;
    const modelId = keyConfig(call.key).deployments[call.model] ?? call.model;
    if (c.op === 'embeddings') return this.embed(call, c, modelId);
    if (c.op === 'count_tokens') throw unsupported(this.name, '(bedrock) has no token counting');
    const chat =
      c.op === 'chat'
        ? c
        : {
            op: 'chat' as const,
            model: c.model,
            messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: c.prompt }] }],
            stream: c.stream,
            maxTokens: c.maxTokens,
            temperature: c.temperature,
            topP: c.topP,
            stop: c.stop,
          };
    const body = JSON.stringify(encodeConverseRequest(chat, this.name));
    const path = `/model/${encodeURIComponent(modelId)}/${call.stream ? 'converse-stream' : 'converse'}`;
    return this.post(call, path, body, call.stream);
  }

  private async post(
    call: ProviderCall,
    path: string,
    body: string,
    stream: boolean,
  ): Promise<UpstreamResponse> {
    const origin = this.origin(call.key);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    Object.assign(headers, this.auth(call.key).headers({ method: 'POST', origin, path, headers, body }));
    headers.accept = stream ? EVENT_STREAM : 'application/json';
    return this.http.send({ url: origin + path, headers, body, stream }, call);
  }

  /** Titan embeds one text per call (sent in parallel and merged); Cohere takes the batch. */
  private async embed(
    call: ProviderCall,
    req: EmbeddingsRequest,
    modelId: string,
  ): Promise<UpstreamResponse> {
    const family = embeddingFamily(modelId);
    const path = `/model/${encodeURIComponent(modelId)}/invoke`;
    if (family === 'cohere') {
      const body: Record<string, unknown> = {
        texts: req.input,
        input_type: req.inputType === 'query' ? 'search_query' : 'search_document',
        embedding_types: ['float'],
      };
      if (req.dimensions !== undefined) body.output_dimension = req.dimensions;
      return this.post(call, path, JSON.stringify(body), false);
    }
    if (family !== 'titan')
      throw unsupported(this.name, `(bedrock) has no embeddings for model "${modelId}"`);
    if (req.input.length > 256)
      throw unsupported(this.name, '(bedrock Titan) takes at most 256 inputs per request');
    const answers = await Promise.all(
      req.input.map((text) => {
        const body: Record<string, unknown> = { inputText: text };
        if (req.dimensions !== undefined) body.dimensions = req.dimensions;
        return this.post(call, path, JSON.stringify(body), false);
      }),
    );
    const failed = answers.find((a) => a.status !== 200);
    if (failed) return failed;
    const vectors: unknown[] = [];
    let inputTokens = 0;
    for (const a of answers) {
      const j = JSON.parse((a.body as Buffer).toString('utf8')) as {
        embedding?: unknown;
        inputTextTokenCount?: unknown;
      };
      vectors.push(j.embedding);
      if (typeof j.inputTextTokenCount === 'number') inputTokens += j.inputTextTokenCount;
    }
    return { status: 200, headers: {}, body: Buffer.from(JSON.stringify({ vectors, inputTokens })) };
  }

  parseResponse(op: CanonicalOp, body: Buffer, model: string) {
    if (op === 'embeddings') return parseBedrockEmbeddings(body, model);
    const res = parseConverseResponse(body, model);
    if (op !== 'completions') return res;
    const c = res.choices[0]!;
    let text = '';
    for (const p of c.message.content) if (p.type === 'text') text += p.text;
    return {
      op: 'completions' as const,
      id: res.id,
      model,
      created: res.created,
      choices: [{ index: 0, text, finishReason: c.finishReason }],
      usage: res.usage,
    };
  }

  streamDecoder(_op: CanonicalOp, model: string): StreamDecoder {
    return new BedrockStreamDecoder(model);
  }

  classifyError(status: number, body: Buffer): UpstreamFailure {
    const f = classifyByStatus(status, body);
    // 424 ModelErrorException and 408 ModelTimeoutException are the model's trouble, worth a retry.
    if (status === 424) return { ...f, kind: 'server' };
    // 403 "You don't have access to the model" is (key, model); a bad signature or key is the key.
    if (status === 403)
      return { ...f, kind: /access to the model/i.test(f.message) ? 'model_refused' : 'auth' };
    return f;
  }

  listModels(key: KeyEntry, signal: Cancel): Promise<string[]> {
    const cfg = keyConfig(key);
    const origin = bedrockControlOrigin(this.baseUrl, cfg.region);
    return listBedrockModels(this.http, origin, this.auth(key), cfg.deployments, signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

function keyConfig(key: KeyEntry) {
  return key.config.bedrock_key_config ?? { region: 'us-east-1', deployments: {} };
}

export const bedrockProvider: ProviderDefinition = {
  type: 'bedrock',
  api: 'AWS Bedrock Runtime: Converse / ConverseStream (event-stream framing); embeddings by InvokeModel (Titan, Cohere)',
  auth: 'SigV4 (service bedrock) from bedrock_key_config, or Authorization: Bearer <value> (Bedrock API keys)',
  defaultBaseUrl: 'https://bedrock-runtime.{region}.amazonaws.com',
  create: (init) => new BedrockProvider(init.name, init.config.network_config.base_url, init.http),
};
