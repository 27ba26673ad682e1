import type { KeyEntry, UpstreamFailure, UpstreamResponse } from '../providers/provider.js';
import { type Cancel, UpstreamError } from '../providers/types.js';
import { HttpError } from '../server/errors.js';
import type { Target } from './targets.js';

export type FailureKind = UpstreamFailure['kind'] | 'timeout' | 'connection' | 'bad_response';

/** What the attempt loop does after one failed attempt, per failure kind. */
export interface FailurePolicy {
  /** Answer the client now: no retry, no fallback (the request itself is at fault). */
  final: boolean;
  /** Keep the failed key out of this request's later attempts even when it is the only one. */
  avoidKey: boolean;
  /** Whether this attempt uses up one of the target's retries (a key switch after an auth failure does not). */
  consumesRetry: boolean;
  /** Sleep (jittered exponential backoff) before the next attempt: always, never, or only when no other key is left. */
  backoff: 'always' | 'never' | 'single_key';
  /** Cluster-wide cool-down: of the whole key, of (key, model), or none. */
  coolDown?: {
    scope: 'key' | 'key_model';
    reason: 'rate_limited' | 'auth_failed' | 'model_refused';
    ms: number;
  };
}

export const AUTH_COOL_DOWN_MS = 60_000;
export const RATE_LIMIT_DEFAULT_MS = 1000;

/** The per-status policy table (statuses are mapped to kinds by the provider's classifier). */
export const POLICY: Readonly<Record<FailureKind, FailurePolicy>> = {
  request: { final: true, avoidKey: false, consumesRetry: true, backoff: 'never' },
  rate_limited: {
    final: false,
    avoidKey: true,
    consumesRetry: true,
    backoff: 'single_key',
    coolDown: { scope: 'key', reason: 'rate_limited', ms: RATE_LIMIT_DEFAULT_MS },
  },
  auth: {
    final: false,
    avoidKey: true,
    consumesRetry: false,
    backoff: 'never',
    coolDown: { scope: 'key', reason: 'auth_failed', ms: AUTH_COOL_DOWN_MS },
  },
  model_refused: {
    final: false,
    avoidKey: true,
    consumesRetry: false,
    backoff: 'never',
    coolDown: { scope: 'key_model', reason: 'model_refused', ms: AUTH_COOL_DOWN_MS },
  },
  overloaded: { final: false, avoidKey: false, consumesRetry: true, backoff: 'always' },
  server: { final: false, avoidKey: false, consumesRetry: true, backoff: 'always' },
  timeout: { final: false, avoidKey: false, consumesRetry: true, backoff: 'always' },
  connection: { final: false, avoidKey: false, consumesRetry: true, backoff: 'always' },
  bad_response: { final: false, avoidKey: false, consumesRetry: true, backoff: 'always' },
};

/** One failed attempt, as reported to the environment (for cool-downs, routing feedback, metrics). */
export interface AttemptFailure {
  target: Target;
  targetIndex: number;
  key: KeyEntry;
  kind: FailureKind;
  /** HTTP status, or 0 when no answer came. */
  status: number;
  response?: UpstreamResponse;
  failure?: UpstreamFailure;
  error?: UpstreamError;
  latencyMs: number;
  policy: FailurePolicy;
}

/** The effects the loop needs; injected so that the loop is a pure function of them. */
export interface AttemptEnv {
  signal: Cancel;
  /** Key for the next attempt on `target`, skipping `avoid`; undefined when none may be used now. */
  pickKey(target: Target, avoid: ReadonlySet<string> | undefined): KeyEntry | undefined;
  /** Whether a target is to be skipped (its circuit is open). */
  targetOpen?(target: Target): boolean;
  /** One upstream attempt; throws UpstreamError when no answer came. */
  send(target: Target, key: KeyEntry, attemptIndex: number): Promise<UpstreamResponse>;
  classify(target: Target, resp: UpstreamResponse): UpstreamFailure;
  /** Called after every failed attempt (cool-downs, router feedback, metrics). */
  onFailure(f: AttemptFailure): void;
  /** The client-facing error for a failure (secrets scrubbed). */
  errorFor(f: AttemptFailure): HttpError;
  sleep(ms: number): Promise<void>;
  random(): number;
  now(): number;
}

export type AttemptResult =
  | {
      ok: true;
      target: Target;
      targetIndex: number;
      key: KeyEntry;
      resp: UpstreamResponse;
      attempts: number;
      /** env.now() when the successful attempt was sent: its latency is measured from here. */
      sentAt: number;
    }
  | { ok: false; error: HttpError; attempts: number; aborted: boolean };

export const CLIENT_CLOSED = new HttpError(
  499,
  'client closed the request',
  'invalid_request_error',
  'client_closed',
);

/**
 * Tries each target in order, each with its retries and key switches, and
 * returns the first 2xx answer or the error to send. Every attempt is
 * bounded: per target at most `maxRetries + 1` retry-consuming attempts plus
 * one free switch per key.
 */
export async function runAttempts(targets: readonly Target[], env: AttemptEnv): Promise<AttemptResult> {
  let last: HttpError | undefined;
  let attempts = 0;
  for (let t = 0; t < targets.length; t++) {
    const target = targets[t]!;
    const entry = target.entry;
    // An open target is skipped only while a later one remains: the last is tried anyway (panic mode).
    if (t < targets.length - 1 && env.targetOpen?.(target)) {
      last ??= new HttpError(
        503,
        `${target.ref} is temporarily unavailable (circuit open)`,
        'service_unavailable',
        'circuit_open',
      );
      continue;
    }
    let retriesLeft = entry.maxRetries;
    let freeSwitches = entry.keys.length;
    /** Keys refused for the rest of this request (auth, model refused, rate limited). */
    let refused: Set<string> | undefined;
    /** Keys that failed transiently: avoided while another key is left. */
    let tried: Set<string> | undefined;
    let backoffStep = 0;
    let targetAttempt = 0;
    for (;;) {
      if (env.signal.aborted) return { ok: false, error: CLIENT_CLOSED, attempts, aborted: true };
      let key = env.pickKey(target, union(refused, tried));
      if (!key && tried) {
        // Only keys that failed transiently remain: retrying one of them beats giving up.
        tried = undefined;
        key = env.pickKey(target, refused);
      }
      if (!key) {
        // Keep an upstream's own answer (a 429, a 5xx) when there was one: it says more.
        last ??= new HttpError(
          503,
          `no usable key for ${target.ref} (all cooling down, rate-limited or not serving this model)`,
          'service_unavailable',
          'no_available_key',
        );
        break;
      }
      attempts++;
      const started = env.now();
      let resp: UpstreamResponse | undefined;
      let error: UpstreamError | undefined;
      try {
        resp = await env.send(target, key, targetAttempt++);
      } catch (err) {
        // A request the provider cannot express is the client's to fix.
        if (err instanceof HttpError) return { ok: false, error: err, attempts, aborted: false };
        error = err instanceof UpstreamError ? err : new UpstreamError('connection', 'upstream error');
        if (error.kind === 'aborted') return { ok: false, error: CLIENT_CLOSED, attempts, aborted: true };
      }
      if (resp && resp.status >= 200 && resp.status < 300)
        return { ok: true, target, targetIndex: t, key, resp, attempts, sentAt: started };
      const failure = resp ? env.classify(target, resp) : undefined;
      const kind: FailureKind = failure ? failure.kind : (error!.kind as FailureKind);
      const policy = POLICY[kind];
      const f: AttemptFailure = {
        target,
        targetIndex: t,
        key,
        kind,
        status: resp?.status ?? 0,
        response: resp,
        failure,
        error,
        latencyMs: env.now() - started,
        policy,
      };
      env.onFailure(f);
      last = env.errorFor(f);
      if (policy.final) return { ok: false, error: last, attempts, aborted: false };
      // Retries go to another key when there is one; keys refused for good stay out.
      if (policy.avoidKey) {
        refused ??= new Set();
        refused.add(key.name);
      } else {
        tried ??= new Set();
        tried.add(key.name);
      }
      if (policy.consumesRetry) {
        if (retriesLeft-- <= 0) break;
      } else if (freeSwitches-- <= 0) break;
      const wait =
        policy.backoff === 'always' || (policy.backoff === 'single_key' && entry.keys.length <= 1)
          ? Math.min(entry.backoffMaxMs, entry.backoffInitialMs * 2 ** backoffStep++)
          : 0;
      if (wait > 0) {
        await env.sleep(env.random() * wait);
        if (env.signal.aborted) return { ok: false, error: CLIENT_CLOSED, attempts, aborted: true };
      }
    }
  }
  return {
    ok: false,
    error: last ?? new HttpError(503, 'no usable provider key', 'service_unavailable', 'no_available_key'),
    attempts,
    aborted: false,
  };
}

function union(a: Set<string> | undefined, b: Set<string> | undefined): ReadonlySet<string> | undefined {
  if (!a) return b;
  if (!b) return a;
  const u = new Set(a);
  for (const x of b) u.add(x);
  return u;
}
