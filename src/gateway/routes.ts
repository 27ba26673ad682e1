import { anthropicCountTokensInbound, anthropicMessagesInbound } from './inbound/anthropic-messages.js';
import {
  geminiBatchEmbedInbound,
  geminiCountTokensInbound,
  geminiEmbedInbound,
  geminiGenerateInbound,
  geminiStreamGenerateInbound,
} from './inbound/gemini.js';
import { openaiChatInbound } from './inbound/openai-chat.js';
import { openaiCompletionsInbound } from './inbound/openai-completions.js';
import { openaiEmbeddingsInbound } from './inbound/openai-embeddings.js';
import { openaiResponsesInbound } from './inbound/openai-responses.js';
import type { InboundAdapter } from './inbound/types.js';

/** One inference route: its path and the inbound format it speaks. */
export interface InferenceRoute {
  /** The router path, and the route's label in logs, records and traces. */
  path: string;
  /**
   * Gemini family: the `:method` after the model (`generateContent`). These
   * routes share one router entry, `/genai/:version/models/*`, because a
   * model name may contain "/" (see GENAI_MODEL_PATH).
   */
  genaiMethod?: string;
  inbound: InboundAdapter;
  /** Where the virtual key may come from besides x-deepintshield-vk and Bearer. */
  apiKeyHeader?: 'x-api-key' | 'x-goog-api-key';
  /** GenAI semantic-convention operation name, for traces. */
  operation: string;
}

/**
 * The inference routes. A new inbound format adds its adapter
 * (src/gateway/inbound/) and its routes here; providers are untouched.
 */
export const INFERENCE_ROUTES: readonly InferenceRoute[] = [
  { path: '/v1/chat/completions', inbound: openaiChatInbound, operation: 'chat' },
  { path: '/v1/completions', inbound: openaiCompletionsInbound, operation: 'text_completion' },
  { path: '/v1/embeddings', inbound: openaiEmbeddingsInbound, operation: 'embeddings' },
  { path: '/v1/responses', inbound: openaiResponsesInbound, operation: 'chat' },
  {
    path: '/anthropic/v1/messages',
    inbound: anthropicMessagesInbound,
    apiKeyHeader: 'x-api-key',
    operation: 'chat',
  },
  {
    path: '/anthropic/v1/messages/count_tokens',
    inbound: anthropicCountTokensInbound,
    apiKeyHeader: 'x-api-key',
    operation: 'count_tokens',
  },
  ...(
    [
      ['generateContent', geminiGenerateInbound, 'chat'],
      ['streamGenerateContent', geminiStreamGenerateInbound, 'chat'],
      ['countTokens', geminiCountTokensInbound, 'count_tokens'],
      ['embedContent', geminiEmbedInbound, 'embeddings'],
      ['batchEmbedContents', geminiBatchEmbedInbound, 'embeddings'],
    ] as const
  ).map(([method, inbound, operation]) => ({
    path: `/genai/{version}/models/{provider}/{model}:${method}`,
    genaiMethod: method,
    inbound,
    apiKeyHeader: 'x-goog-api-key' as const,
    operation,
  })),
];

/** The one router entry of every Gemini-family inference route: the wildcard is `provider/model:method`. */
export const GENAI_MODEL_PATH = '/genai/:version/models/*';

/**
 * `provider/model:method` (the wildcard of GENAI_MODEL_PATH) → its parts.
 * The model may contain "/" ("openrouter/anthropic/claude-3.5"); the method
 * follows the last ":". Undefined when a part is empty.
 */
export function splitGenaiPath(
  rest: string,
): { provider: string; model: string; method: string } | undefined {
  const colon = rest.lastIndexOf(':');
  const slash = rest.indexOf('/');
  if (colon === -1 || slash <= 0 || slash >= colon - 1 || colon === rest.length - 1) return undefined;
  return {
    provider: rest.slice(0, slash),
    model: rest.slice(slash + 1, colon),
    method: rest.slice(colon + 1),
  };
}
