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
}

export interface Usage {
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
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
}

export interface GovernanceHook {
  admit(req: AdmissionRequest): Admission;
}

/**
 * Cluster-wide state of provider keys: per-key rpm/tpm caps and cool-downs
 * after a provider's 429 or 401/403, honoured by every node.
 */
export interface ProviderKeyGate {
  /** True when the key may be used now (not cooling down, under its caps); counts the request when it is. */
  tryAcquire(provider: string, keyName: string): boolean;
  coolDown(provider: string, keyName: string, ms: number, reason: 'rate_limited' | 'auth_failed'): void;
  recordTokens(provider: string, keyName: string, tokens: number): void;
}

const NOOP_ADMISSION: Admission = { settle() {} };

export const allowAllGovernance: GovernanceHook = { admit: () => NOOP_ADMISSION };
