import type { CanonicalOp, WireFormat } from '../../gateway/canonical.js';
import { HttpError } from '../../server/errors.js';
import { classifyByStatus } from '../http/errors.js';
import { encodeChatRequest, encodeCompletionRequest, encodeEmbeddingsRequest } from '../openai/request.js';
import { parseOpenAIResponse } from '../openai/response.js';
import { OpenAIStreamDecoder } from '../openai/stream.js';
import type {
  Provider,
  ProviderCall,
  ProviderDefinition,
  StreamDecoder,
  UpstreamResponse,
} from '../provider.js';
import type { ProviderType } from '../provider-types.js';
import { MOCK_MODELS, MockEngine, type MockOp } from './engine.js';

export { MOCK_MODELS };

const NATIVE: ReadonlySet<WireFormat> = new Set([
  'openai.chat',
  'openai.completions',
  'openai.embeddings',
  'anthropic.messages',
]);
const NATIVE_OPS: Partial<Record<WireFormat, MockOp>> = {
  'openai.chat': 'chat',
  'openai.completions': 'completions',
  'openai.embeddings': 'embeddings',
  'anthropic.messages': 'messages',
};
const MAX_EVENT = 4 * 1024 * 1024;

/** The built-in deterministic provider: speaks OpenAI and Anthropic natively, canonical requests in OpenAI shape. */
export class MockProvider implements Provider {
  readonly type: ProviderType = 'mock';
  readonly nativeFormats = NATIVE;
  private readonly engine: MockEngine;

  constructor(
    readonly name: string,
    engine: MockEngine,
  ) {
    this.engine = engine;
  }

  supports(op: CanonicalOp): boolean {
    return op !== 'count_tokens';
  }

  send(call: ProviderCall): Promise<UpstreamResponse> {
    const r = call.request;
    let op: MockOp | undefined;
    let body: Record<string, unknown>;
    if (r.kind === 'native') {
      op = NATIVE_OPS[r.format];
      body = r.body;
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
        'the mock provider does not serve this operation',
        'invalid_request_error',
        'unsupported_operation',
      );
    return this.engine.send({
      op,
      body,
      stream: call.stream,
      signal: call.signal,
      timeoutMs: call.timeoutMs,
    });
  }

  parseResponse(op: CanonicalOp, body: Buffer) {
    return parseOpenAIResponse(op, body);
  }

  streamDecoder(op: CanonicalOp, model: string): StreamDecoder {
    return new OpenAIStreamDecoder(op, model, MAX_EVENT);
  }

  classifyError(status: number, body: Buffer) {
    return classifyByStatus(status, body);
  }

  async listModels(): Promise<string[]> {
    return [...MOCK_MODELS];
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const mockProvider: ProviderDefinition = {
  type: 'mock',
  api: 'built in, deterministic (OpenAI and Anthropic shapes)',
  auth: 'none',
  create: (init) => new MockProvider(init.name, new MockEngine(init.config.mock_config)),
};
