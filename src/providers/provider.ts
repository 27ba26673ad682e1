import type { ProviderConfig, ProviderKeyConfig } from '../config/schema.js';
import type {
  CanonicalOp,
  CanonicalRequest,
  CanonicalResponse,
  StreamEvent,
  WireFormat,
} from '../gateway/canonical.js';
import type { UpstreamClient } from './http/client.js';
import type { Preset } from './presets.js';
import type { ProviderType } from './provider-types.js';
import type { Cancel } from './types.js';

/**
 * What a provider folder implements.
 *
 * How a new provider plugs in:
 *  1. Add its type name to NATIVE_PROVIDER_TYPES (src/providers/provider-types.ts);
 *     the config schema's `type` enum follows.
 *  2. Create src/providers/<type>/ with request.ts (canonical → native body,
 *     endpoint), response.ts (native JSON → canonical), stream.ts (native
 *     stream bytes → canonical StreamEvents; SSE via ../http/sse.ts, or its own
 *     framing), auth.ts (headers/signing/token), errors.ts (status + body →
 *     UpstreamFailure), models.ts (model listing), and index.ts exporting a
 *     `ProviderDefinition`.
 *  3. Add one line to PROVIDERS in src/providers/registry.ts.
 * Nothing else changes: inbound formats reach it through the canonical model,
 * and the gateway's retry/key/fallback/usage logic is shared.
 *
 * All I/O goes through the `UpstreamClient` handed to `create` (keep-alive
 * pools, size limits, timeouts, abort); a provider never opens sockets itself.
 * Transforms must not throw anything but an HttpError(400) for a request the
 * provider cannot express, or an UpstreamError('bad_response') for an answer
 * it cannot read.
 *
 * Stability: change additively only.
 */
export interface ProviderDefinition {
  readonly type: ProviderType;
  /** One line for docs and `type` error messages: the API it speaks. */
  readonly api: string;
  /** How each key authenticates, for the docs table. */
  readonly auth: string;
  /** Default origin or API root, when the type has one. */
  readonly defaultBaseUrl?: string;
  create(init: ProviderInit): Provider;
}

export interface ProviderInit {
  /** The provider's name in the config (`providers.<name>`). */
  name: string;
  type: ProviderType;
  config: ProviderConfig;
  /** For OpenAI-compatible presets: the preset's data. */
  preset?: Preset;
  /** Shared HTTP client bound to this provider's network_config (pools per origin, limits). */
  http: UpstreamClient;
}

/** One provider key, precomputed from its config. */
export interface KeyEntry {
  name: string;
  /** `value` from the config, '' when the key has none (cloud key configs, local servers). */
  value: string;
  /** Empty = every model. */
  models: ReadonlySet<string>;
  weight: number;
  /** The key's full config (azure_key_config, vertex_key_config, bedrock_key_config …). */
  config: ProviderKeyConfig;
}

/** One upstream call as the gateway hands it to a provider. */
export interface ProviderCall {
  op: CanonicalOp;
  /**
   * Either a canonical request, or (byte pass-through) the client's body in
   * one of the provider's `nativeFormats`, model already replaced by the bare
   * upstream model name.
   */
  request:
    | { kind: 'canonical'; body: CanonicalRequest }
    | { kind: 'native'; format: WireFormat; body: Record<string, unknown> };
  stream: boolean;
  /** Bare upstream model name. */
  model: string;
  key: KeyEntry;
  signal: Cancel;
  timeoutMs: number;
  requestId: string;
  /** W3C traceparent for this attempt, to send upstream when set. */
  traceparent?: string;
}

/**
 * An upstream answer. `body` is a Buffer for JSON answers and errors (already
 * bounded by network_config.max_response_bytes), an async iterable of raw
 * bytes for a successful stream.
 */
export interface UpstreamResponse {
  status: number;
  /** Lower-cased response headers the gateway uses: retry-after and the quota headers. */
  headers: Record<string, string>;
  retryAfterMs?: number;
  body: Buffer | AsyncIterable<Buffer>;
}

/**
 * What an error answer means, as the attempt policy needs it.
 * - `rate_limited`: 429 / quota; cool the key down, try another key.
 * - `auth`: the key itself is bad (401, 403 invalid key); cool the whole key.
 * - `model_refused`: the key cannot use this model (403/404 model not enabled / not found
 *   for this account); cool (key, model) only.
 * - `overloaded` / `server`: transient upstream trouble; retry with backoff, then fall back.
 * - `request`: the request itself is at fault (other 4xx); answer the client, no retry.
 */
export interface UpstreamFailure {
  kind: 'rate_limited' | 'auth' | 'model_refused' | 'overloaded' | 'server' | 'request';
  /** Provider's message (the gateway scrubs secrets from it before anyone sees it). */
  message: string;
  /** Provider's error code/type, when it gave one. */
  code: string | null;
  /** Field the provider named, if any. */
  param?: string | null;
}

/** Bytes of a successful stream → canonical events. One decoder per stream. */
export interface StreamDecoder {
  /** Feeds raw upstream bytes (any chunking); returns the events now complete. */
  push(chunk: Buffer): StreamEvent[];
  /** The upstream ended; returns the remaining events, `end` (or an `error`) last. */
  end(): StreamEvent[];
}

export interface Provider {
  readonly name: string;
  readonly type: ProviderType;
  /**
   * Inbound wire formats this provider accepts byte for byte (pass-through):
   * a request in one of these skips the canonical model both ways.
   */
  readonly nativeFormats: ReadonlySet<WireFormat>;
  /** Operations it serves (natively or by its own translation). */
  supports(op: CanonicalOp): boolean;
  /** Sends one attempt: builds endpoint, auth and body, then calls the shared client. */
  send(call: ProviderCall): Promise<UpstreamResponse>;
  /** A successful JSON answer to a canonical request → canonical response (throws UpstreamError bad_response). */
  parseResponse(op: CanonicalOp, body: Buffer, model: string): CanonicalResponse;
  /** A decoder for a successful stream to a canonical request. */
  streamDecoder(op: CanonicalOp, model: string): StreamDecoder;
  /** An error answer (status ≥ 400) → what it means. */
  classifyError(status: number, body: Buffer, headers: Record<string, string>): UpstreamFailure;
  /** The models the upstream lists for this key (GET …/models), when it lists any. */
  listModels?(key: KeyEntry, signal: Cancel): Promise<string[]>;
  /** Releases pools and timers; in-flight calls may finish. */
  close(): Promise<void>;
}
