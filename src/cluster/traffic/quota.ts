/**
 * Provider rate-limit headers → one quota observation. Read from the
 * providers' own references:
 * - OpenAI: x-ratelimit-{limit,remaining}-{requests,tokens}, x-ratelimit-reset-{requests,tokens}
 *   as Go-style durations ("1s", "6m0s", "120ms");
 * - Anthropic: anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}
 *   with reset as an RFC 3339 time;
 * - retry-after (seconds or an HTTP date) and retry-after-ms.
 */
export interface QuotaObservation {
  /** Epoch ms of the answer. */
  at: number;
  requests?: QuotaWindow;
  tokens?: QuotaWindow;
  /** Epoch ms until which the provider asked us to wait (after a 429). */
  retryUntil?: number;
}

export interface QuotaWindow {
  limit: number;
  remaining: number;
  /** Epoch ms when `remaining` is back at `limit`. */
  resetAt: number;
}

const MAX_RESET_MS = 24 * 3600_000;

export function parseQuotaHeaders(
  h: Readonly<Record<string, string>> | undefined,
  now: number,
): QuotaObservation | undefined {
  if (!h) return undefined;
  const obs: QuotaObservation = { at: now };
  const requests =
    window(
      h['x-ratelimit-limit-requests'],
      h['x-ratelimit-remaining-requests'],
      h['x-ratelimit-reset-requests'],
      now,
    ) ??
    window(
      h['anthropic-ratelimit-requests-limit'],
      h['anthropic-ratelimit-requests-remaining'],
      h['anthropic-ratelimit-requests-reset'],
      now,
    );
  const tokens =
    window(
      h['x-ratelimit-limit-tokens'],
      h['x-ratelimit-remaining-tokens'],
      h['x-ratelimit-reset-tokens'],
      now,
    ) ??
    window(
      h['anthropic-ratelimit-tokens-limit'],
      h['anthropic-ratelimit-tokens-remaining'],
      h['anthropic-ratelimit-tokens-reset'],
      now,
    );
  if (requests) obs.requests = requests;
  if (tokens) obs.tokens = tokens;
  const retryMs = retryAfterMs(h['retry-after-ms'], h['retry-after'], now);
  if (retryMs !== undefined) obs.retryUntil = now + retryMs;
  return obs.requests || obs.tokens || obs.retryUntil !== undefined ? obs : undefined;
}

function window(
  limit: string | undefined,
  remaining: string | undefined,
  reset: string | undefined,
  now: number,
): QuotaWindow | undefined {
  if (limit === undefined || remaining === undefined) return undefined;
  const l = Number(limit);
  const r = Number(remaining);
  if (!Number.isFinite(l) || !Number.isFinite(r) || l <= 0 || r < 0) return undefined;
  const resetIn = reset === undefined ? undefined : resetDelayMs(reset, now);
  return { limit: l, remaining: Math.min(r, l), resetAt: now + (resetIn ?? 60_000) };
}

/** A Go duration ("6m0s", "1.5s", "20ms"), bare seconds, or an RFC 3339 time. */
export function resetDelayMs(v: string, now: number): number | undefined {
  const s = v.trim();
  if (s.length === 0 || s.length > 64) return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return clamp(Number(s) * 1000);
  if (/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(s)) {
    let ms = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
      const n = Number(m[1]);
      const unit = m[2];
      ms +=
        unit === 'h'
          ? n * 3600_000
          : unit === 'm'
            ? n * 60_000
            : unit === 's'
              ? n * 1000
              : unit === 'ms'
                ? n
                : unit === 'ns'
                  ? n / 1e6
                  : n / 1e3;
    }
    return clamp(ms);
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? undefined : clamp(t - now);
  }
  return undefined;
}

function retryAfterMs(ms: string | undefined, v: string | undefined, now: number): number | undefined {
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return clamp(Number(ms));
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return clamp(Number(s) * 1000);
  if (s.length > 64) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : clamp(t - now);
}

function clamp(ms: number): number {
  return Math.max(0, Math.min(MAX_RESET_MS, ms));
}
