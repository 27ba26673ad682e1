import type { QuotaWindow } from './quota.js';

/** How an attempt failed, as counted in the stats. */
export type FailureClass = 'rate_limited' | 'server_error' | 'timeout' | 'connect' | 'other';

/** One (provider, key, model) over the last window (10 s), on one node or summed over the cluster. */
export interface KeyStats {
  provider: string;
  key: string;
  model: string;
  requests: number;
  ok: number;
  rateLimited: number;
  serverErrors: number;
  timeouts: number;
  connectErrors: number;
  otherErrors: number;
  /** EWMA of successful attempts' latency, ms (0 = no sample). */
  latencyMs: number;
  p50Ms: number;
  p99Ms: number;
  /** EWMA of time to first token, ms (streams; 0 = no sample). */
  ttftMs: number;
  ttftP99Ms: number;
}

/** The latest quota a provider reported for one key. */
export interface KeyQuota {
  provider: string;
  key: string;
  /** Epoch ms of the observation. */
  at: number;
  requests?: QuotaWindow;
  tokens?: QuotaWindow;
  retryUntil?: number;
}

/** One node's health as it reports it. */
export interface NodeHealth {
  /** Process CPU over the last second, in cores (1 = one core busy). */
  cpu: number;
  rssMb: number;
  /** Event-loop lag, ms (mean delay of the last sampling window). */
  loopLagMs: number;
  inFlight: number;
  rps: number;
}

export const WINDOW_SECONDS = 10;

export function statsId(provider: string, key: string, model: string): string {
  return `${provider}\u0000${key}\u0000${model}`;
}

export function keyId(provider: string, key: string): string {
  return `${provider}\u0000${key}`;
}

export function emptyStats(provider: string, key: string, model: string): KeyStats {
  return {
    provider,
    key,
    model,
    requests: 0,
    ok: 0,
    rateLimited: 0,
    serverErrors: 0,
    timeouts: 0,
    connectErrors: 0,
    otherErrors: 0,
    latencyMs: 0,
    p50Ms: 0,
    p99Ms: 0,
    ttftMs: 0,
    ttftP99Ms: 0,
  };
}

/** Errors that say the key or provider is unwell (not the client's fault, not a quota). */
export function hardErrors(s: KeyStats): number {
  return s.serverErrors + s.timeouts + s.connectErrors;
}
