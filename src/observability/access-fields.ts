import type { RequestRecord } from '../gateway/hooks.js';

/** Fields an inference request adds to its access-log line (no secrets: the virtual key's id, never its value). */
export interface AccessLogFields {
  provider: string;
  model: string;
  vk?: string;
  upstream_status: number;
  tokens_in: number;
  tokens_out: number;
  attempts: number;
  fallback?: number;
  error?: string;
}

/**
 * The access line's extra fields for an inference request. The HTTP server
 * spreads this into its one line per request when the gateway has put the
 * finished request's record on the request context.
 */
export function accessLogFields(rec: RequestRecord | undefined): AccessLogFields | undefined {
  if (!rec) return undefined;
  const f: AccessLogFields = {
    provider: rec.provider,
    model: rec.model,
    upstream_status: rec.status,
    tokens_in: rec.promptTokens,
    tokens_out: rec.completionTokens,
    attempts: rec.attempts,
  };
  if (rec.virtualKeyId !== undefined) f.vk = rec.virtualKeyId;
  if (rec.fallbackIndex !== null && rec.fallbackIndex > 0) f.fallback = rec.fallbackIndex;
  if (rec.error !== undefined) f.error = rec.error.slice(0, 200);
  return f;
}
