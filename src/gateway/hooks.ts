import type { HttpError } from '../server/errors.js';

/**
 * The seam between the gateway (request path) and governance (policy and
 * cluster-wide counters). Everything here is synchronous and local: the
 * request path never waits on another node or on the store.
 */

export interface AdmissionRequest {
  /** Raw virtual key from `x-deepintshield-vk` or `Authorization: Bearer`, if any. */
  virtualKey: string | undefined;
  provider: string;
  model: string;
  /** Route label, e.g. "/v1/chat/completions". */
  route: string;
  /**
   * Where the key came from. With `enforce_virtual_keys: false` a bearer or `x-api-key` value that is no
   * virtual key counts as no key (SDKs always send one); an unknown `x-deepintshield-vk` is always 401.
   * Absent: treated as a bearer value.
   */
  virtualKeySource?: 'x-deepintshield-vk' | 'authorization' | 'x-api-key';
  /**
   * Tokens to reserve at admission so that concurrent requests cannot
   * overshoot a token limit or budget: the client's max output tokens
   * (max_tokens / max_completion_tokens / max_output_tokens) plus an estimate
   * of the prompt. Settled to the real usage by `settle`.
   */
  estimatedTokens?: number;
  /**
   * The request's fallback targets, in order (at most 5). Governance admits
   * each like the primary (allowed_models, limits); any refused target
   * refuses the whole request before an upstream call.
   */
  fallbacks?: { provider: string; model: string }[];
  /** Asked again after `Admission.wait`: the first asking was counted. */
  again?: boolean;
}

export interface Usage {
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /**
   * True when the request ended before the upstream reported usage (client
   * abort, timeout, broken stream, drain): the counts are what was streamed
   * (upstream usage when some came, else an estimate from the delivered text).
   */
  partial?: boolean;
}

export interface Admission {
  /** Set when the request must be refused (401/402/403/429). */
  reject?: HttpError;
  /** Id of the virtual key that was used, for logs and metrics. */
  virtualKeyId?: string;
  /** x-ratelimit-* headers to add to the response. */
  headers?: Record<string, string>;
  /** Called exactly once when the request ends: usage when known, null when the request failed before any. */
  settle(usage: Usage | null): void;
  /**
   * Set on a refusal that may turn into an admission within a round trip (this node is confirming a
   * claim on idle peers' shares): await it, then admit again with `again: true`.
   */
  wait?: Promise<void>;
}

export interface GovernanceHook {
  admit(req: AdmissionRequest): Admission;
  /** Only who is asking (401 or nothing), counting nothing: for routes that are no inference (/v1/models). */
  authenticate?(req: Pick<AdmissionRequest, 'virtualKey' | 'virtualKeySource'>): HttpError | undefined;
  /**
   * USD cost of a request's tokens by the same price table the budget limiter charges
   * (governance.pricing, the built-in table, governance.default_price); 0 for an unpriced model.
   */
  cost?(provider: string, model: string, promptTokens: number, completionTokens: number): number;
}

/**
 * Cluster-wide state of provider keys: per-key rpm/tpm caps and cool-downs
 * after a provider's 429 or 401/403, honoured by every node.
 */
export interface ProviderKeyGate {
  /** True when the key may be used now (not cooling down, under its caps); counts the request when it is. */
  tryAcquire(provider: string, keyName: string, model?: string): boolean;
  /** `model`: a model-scoped refusal (e.g. a 403 for one model) cools the key down for that model only. */
  coolDown(
    provider: string,
    keyName: string,
    ms: number,
    reason: 'rate_limited' | 'auth_failed' | 'model_refused',
    model?: string,
  ): void;
  recordTokens(provider: string, keyName: string, tokens: number): void;
}

const NOOP_ADMISSION: Admission = { settle() {} };

export const allowAllGovernance: GovernanceHook = { admit: () => NOOP_ADMISSION };

/** After a refusal with `wait` (a claim being confirmed): waits for it, then asks once more. */
export async function admitAfterWait(
  governance: GovernanceHook,
  wait: Promise<void>,
  asked: AdmissionRequest,
): Promise<Admission> {
  await wait;
  return governance.admit({ ...asked, again: true });
}

/*
 * Seams added for the open issues (provider platform, traffic intelligence,
 * request log, OpenTelemetry). The gateway calls these; the modules that
 * implement them live in their own folders and never import the gateway.
 */

/** How one upstream attempt ended, as the key router and the traffic stats see it. */
export interface AttemptOutcome {
  provider: string;
  keyName: string;
  model: string;
  /** HTTP status, or the failure class when no answer came. */
  status: number;
  failure?: 'timeout' | 'connection' | 'aborted' | 'bad_response';
  latencyMs: number;
  /** Time to first token, streams only. */
  ttftMs?: number;
  /** Upstream response headers relevant to quotas (x-ratelimit-*, anthropic-ratelimit-*, retry-after), lower-cased. */
  quotaHeaders?: Record<string, string>;
}

/** A candidate key for one (provider, model) target. */
export interface KeyCandidate {
  name: string;
  weight: number;
}

/**
 * Chooses the key for an attempt (weights, cool-downs, circuit breakers,
 * adaptive scores, quota pacing) and learns from each attempt's outcome.
 * Synchronous and local: the request path never waits on another node.
 */
export interface KeyRouter {
  /** Index into `candidates` of the key to use, or -1 when none may be used now. `avoid` holds names already tried. */
  choose(
    provider: string,
    model: string,
    candidates: readonly KeyCandidate[],
    avoid: ReadonlySet<string> | undefined,
  ): number;
  /** Whether a whole provider target should be skipped (its circuit is open for this model). */
  targetOpen?(provider: string, model: string): boolean;
  record(outcome: AttemptOutcome): void;
}

/** One finished inference request, for the request log, the access line and the trace. */
export interface RequestRecord {
  requestId: string;
  /** Epoch ms when the request arrived. */
  startedAt: number;
  route: string;
  virtualKeyId?: string;
  /** What actually answered (after fallbacks), else the primary. */
  provider: string;
  model: string;
  status: number;
  latencyMs: number;
  ttftMs?: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  /** Index into the request's targets of the one that answered (0 = primary), or null when none did. */
  fallbackIndex: number | null;
  error?: string;
  stream: boolean;
  /** Only when body logging is on; already scrubbed of secrets. */
  requestBody?: string;
  responseBody?: string;
}

/** Receives every finished request; must return at once (queue, never write on the caller's turn). */
export interface RequestObserver {
  onRequestEnd(rec: RequestRecord): void;
}

/** One upstream attempt's span. */
export interface AttemptSpan {
  /** W3C traceparent to send upstream with this attempt (undefined when not sampled/disabled). */
  readonly traceparent: string | undefined;
  end(outcome: AttemptOutcome): void;
}

/** One inference request's span; created only when tracing is on, so a disabled tracer costs nothing. */
export interface RequestSpan {
  attempt(provider: string, model: string, keyName: string, attemptIndex: number): AttemptSpan;
  end(rec: RequestRecord): void;
}

export interface RequestTracer {
  /** `traceparent` is the client's header, honoured when valid; `operation` is the GenAI operation name (chat, embeddings, text_completion, …). */
  startRequest(route: string, operation: string, traceparent: string | undefined): RequestSpan;
}
