import type { IncomingMessage } from 'node:http';
import type { HttpError } from '../../server/errors.js';
import type {
  CanonicalOp,
  CanonicalRequest,
  CanonicalResponse,
  CanonicalUsage,
  StreamEvent,
  WireFormat,
} from '../canonical.js';

/**
 * One inbound API format (OpenAI chat, completions, embeddings, Responses;
 * Anthropic messages; Gemini generateContent …): how its requests become
 * canonical and how canonical answers go back to the client.
 *
 * How a new inbound format plugs in: implement this interface in
 * src/gateway/inbound/<format>.ts and list its routes in
 * src/gateway/routes.ts. Providers are untouched.
 *
 * Every function here takes untrusted input: it validates with a clear
 * HttpError(400) naming the field (`param`), and never throws anything else.
 *
 * Stability: change additively only.
 */
export interface InboundAdapter {
  readonly format: WireFormat;
  readonly op: CanonicalOp;
  /**
   * The routing facts of a request, cheap (no full decode): the model
   * reference "provider/model", whether it streams, and its fallbacks.
   */
  target(input: InboundInput): InboundTarget;
  /** Full validation and decode into the canonical request for `model` (the bare upstream name). */
  decode(input: InboundInput, model: string): CanonicalRequest;
  /**
   * The client's body for byte pass-through to a provider that speaks this
   * same format: model replaced, gateway-only fields removed, and whatever
   * the gateway needs added (e.g. stream usage). Validated as `decode` would.
   */
  passThroughBody(input: InboundInput, model: string): Record<string, unknown>;
  /** A canonical answer → the client's JSON. `clientModel` is "provider/model" as the client named it. */
  encodeResponse(res: CanonicalResponse, clientModel: string, input: InboundInput): unknown;
  /** A canonical stream → the client's SSE bytes. */
  streamEncoder(clientModel: string, input: InboundInput): StreamEncoder;
  /** An error body in this format (OpenAI shape by default; Anthropic and Gemini have their own). */
  errorBody?(err: HttpError): unknown;
  /** Usage of a passed-through JSON answer (no full parse where avoidable). */
  usageOfJson(body: Buffer): CanonicalUsage | undefined;
  /** Usage scanning of a passed-through stream; may also drop events the client did not ask for. */
  passThroughStream(input: InboundInput): PassThroughStream;
}

export interface InboundInput {
  /** Parsed JSON body (GET routes: {}). */
  body: Record<string, unknown>;
  /** Path parameters of the route (Gemini's model and method). */
  params: Record<string, string>;
  /** Query parameters (`alt=sse`). */
  query: URLSearchParams;
  req: IncomingMessage;
}

export interface InboundTarget {
  /** "provider/model" (validated as a non-empty string by the adapter). */
  model: string;
  stream: boolean;
  /** Fallback model references, in order (validated strings; the cap is the gateway's). */
  fallbacks: string[];
  /** Upper bound of output tokens the client asked for, for admission estimates. */
  maxTokens?: number;
}

export interface StreamEncoder {
  /** Canonical events → bytes to write ('' when nothing yet). */
  events(events: readonly StreamEvent[]): string;
  /** The stream broke after the first byte: a proper error event in this format, then the end. */
  error(err: HttpError): string;
}

export interface PassThroughStream {
  /** Upstream bytes → bytes to forward (cut at event boundaries; may hold back a partial event). */
  push(chunk: Buffer): Buffer | undefined;
  /** End of upstream: what is still held back. */
  flush(): Buffer | undefined;
  /** Usage seen so far (the upstream's, when it sent any). */
  readonly usage: CanonicalUsage | undefined;
  /** Output text seen so far, in characters, for charging an aborted stream without upstream usage. */
  readonly outputChars: number;
}
