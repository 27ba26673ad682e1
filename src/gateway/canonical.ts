/**
 * The canonical request/response model of the gateway.
 *
 * Every inbound format (OpenAI chat, completions, embeddings, Responses;
 * Anthropic messages; Gemini generateContent) is decoded into these types
 * once (src/gateway/inbound/*), and every provider encodes them into its own
 * API once (src/providers/<type>/). Adding a provider never touches the
 * inbound formats, and adding an inbound format never touches a provider.
 *
 * Where inbound and upstream speak the same wire format the gateway skips
 * this model entirely and passes bytes through (see `WireFormat`).
 *
 * Stability: other modules build on these types; change them additively only.
 */

/** The operations the gateway routes. */
export type CanonicalOp = 'chat' | 'completions' | 'embeddings' | 'count_tokens';

/**
 * A concrete wire format ("dialect.operation"). Inbound adapters and
 * providers declare the formats they speak; equal formats on both sides mean
 * byte pass-through.
 */
export type WireFormat =
  | 'openai.chat'
  | 'openai.completions'
  | 'openai.embeddings'
  | 'openai.responses'
  | 'anthropic.messages'
  | 'anthropic.count_tokens'
  | 'gemini.generate'
  | 'gemini.embed'
  | 'gemini.batch_embed'
  | 'gemini.count_tokens';

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  type: 'text';
  text: string;
}

/** An image by URL (http(s) or data:) or inline base64 bytes. */
export interface ImagePart {
  type: 'image';
  /** Remote URL; absent when `data` is set. */
  url?: string;
  /** Base64 bytes (no data: prefix). */
  data?: string;
  /** e.g. "image/png"; required with `data`. */
  mediaType?: string;
  /** OpenAI's detail hint. */
  detail?: 'auto' | 'low' | 'high';
}

/** A file or document (PDF etc.), inline or by URL. */
export interface FilePart {
  type: 'file';
  url?: string;
  data?: string;
  mediaType?: string;
  filename?: string;
}

/** Reasoning text a model exposed ("thinking"); carried, never required. */
export interface ReasoningPart {
  type: 'reasoning';
  text: string;
  /** Provider signature that must accompany the block when sent back (Anthropic). */
  signature?: string;
}

export type ContentPart = TextPart | ImagePart | FilePart | ReasoningPart;

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, exactly as the model produced them. */
  arguments: string;
}

export interface Message {
  role: Role;
  content: ContentPart[];
  /** Assistant turns: the tools it called. */
  toolCalls?: ToolCall[];
  /** Tool turns: the call this answers. */
  toolCallId?: string;
  /** Tool turns: the tool's name, when the format carries it (Gemini needs it). */
  toolName?: string;
  /** Tool turns: the result was an error. */
  isError?: boolean;
  /** Participant name (OpenAI `name`). */
  name?: string;
}

/** A JSON Schema object, passed through as given. */
export type JsonSchema = Record<string, unknown>;

export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: JsonSchema;
  strict?: boolean;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: JsonSchema; strict?: boolean; description?: string };

export interface SamplingParams {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Number of choices; providers without `n` answer one. */
  n?: number;
  logprobs?: boolean;
  topLogprobs?: number;
}

export interface ChatRequest extends SamplingParams {
  op: 'chat';
  /** Bare upstream model name (the part after "provider/"). */
  model: string;
  /** System/developer instructions are `role: 'system'` messages, in order. */
  messages: Message[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  reasoningEffort?: 'minimal' | 'low' | 'medium' | 'high';
  /** Anthropic-style thinking budget, when the client set one. */
  thinkingBudget?: number;
  stream: boolean;
  /** End user id, for upstream abuse tracking. */
  user?: string;
  metadata?: Record<string, string>;
}

/** Legacy text completion (OpenAI /v1/completions); providers without it get a one-message chat. */
export interface CompletionRequest extends SamplingParams {
  op: 'completions';
  model: string;
  prompt: string;
  stream: boolean;
  user?: string;
}

export interface EmbeddingsRequest {
  op: 'embeddings';
  model: string;
  /** Texts to embed (token-id inputs are passed as their JSON text by adapters that cannot carry them). */
  input: string[];
  dimensions?: number;
  /** What the client wants back; providers always return floats to the gateway. */
  encodingFormat?: 'float' | 'base64';
  /** Retrieval hint for providers that take one (Gemini, Cohere, Bedrock Cohere). */
  inputType?: 'query' | 'document';
  user?: string;
}

/** Token counting (Anthropic count_tokens, Gemini countTokens): the chat it would send. */
export interface CountTokensRequest {
  op: 'count_tokens';
  model: string;
  chat: ChatRequest;
}

export type CanonicalRequest = ChatRequest | CompletionRequest | EmbeddingsRequest | CountTokensRequest;

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

export interface CanonicalUsage {
  /** All input tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

export interface Choice {
  index: number;
  message: Message;
  finishReason: FinishReason;
  /** The provider's own stop reason, for formats that carry it through. */
  nativeFinishReason?: string;
}

export interface ChatResponse {
  op: 'chat';
  id: string;
  /** Model as the upstream named it. */
  model: string;
  /** Epoch seconds. */
  created: number;
  choices: Choice[];
  usage?: CanonicalUsage;
}

export interface CompletionResponse {
  op: 'completions';
  id: string;
  model: string;
  created: number;
  choices: { index: number; text: string; finishReason: FinishReason }[];
  usage?: CanonicalUsage;
}

export interface EmbeddingsResponse {
  op: 'embeddings';
  model: string;
  /** One vector per input, in input order. */
  vectors: number[][];
  usage?: CanonicalUsage;
}

export interface CountTokensResponse {
  op: 'count_tokens';
  inputTokens: number;
  /** True when the gateway estimated it (the provider has no counting endpoint). */
  estimated?: boolean;
}

export type CanonicalResponse = ChatResponse | CompletionResponse | EmbeddingsResponse | CountTokensResponse;

/**
 * The canonical stream: what a provider's stream decoder emits and an inbound
 * stream encoder consumes. Order: `start`, then any mix of deltas for any
 * choice, `finish` per choice, `usage` (zero or more times; the last wins),
 * and `end` exactly once, unless an `error` ends the stream instead.
 */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; created: number; usage?: CanonicalUsage }
  | { type: 'text'; choice: number; text: string }
  | { type: 'reasoning'; choice: number; text: string; signature?: string }
  /** A tool call begins; `index` numbers tool calls within the choice from 0. */
  | { type: 'tool_call_start'; choice: number; index: number; id: string; name: string }
  /** Argument JSON text for the tool call `index` (concatenate in order). */
  | { type: 'tool_call_delta'; choice: number; index: number; arguments: string }
  | { type: 'finish'; choice: number; reason: FinishReason; nativeReason?: string }
  | { type: 'usage'; usage: CanonicalUsage }
  | { type: 'error'; message: string; code?: string; status?: number }
  | { type: 'end' };
