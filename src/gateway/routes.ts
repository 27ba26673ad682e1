import { anthropicCountTokensInbound, anthropicMessagesInbound } from './inbound/anthropic-messages.js';
import {
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
  path: string;
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
    ] as const
  ).map(([method, inbound, operation]) => ({
    // find-my-way: the model segment is a regex param, `::` a literal colon before the method.
    path: `/genai/:version/models/:provider/:model(^[^/:]+)::${method}`,
    inbound,
    apiKeyHeader: 'x-goog-api-key' as const,
    operation,
  })),
];
