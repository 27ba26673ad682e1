import type { CanonicalUsage } from './canonical.js';

/** Characters per token for estimates (the usual rule of thumb for English; conservative for code). */
const CHARS_PER_TOKEN = 4;
/** Output tokens assumed at admission when the client set no maximum. */
export const DEFAULT_OUTPUT_ESTIMATE = 1024;
const MAX_WALK = 10_000;

/** Estimated prompt tokens of a parsed body: its text strings (inline data such as base64 images excluded), bounded walk. */
export function estimatePromptTokens(body: unknown): number {
  let chars = 0;
  let seen = 0;
  const stack: unknown[] = [body];
  while (stack.length > 0 && seen++ < MAX_WALK) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!v.startsWith('data:') && v.length < 1_000_000) chars += v.length;
    } else if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v && typeof v === 'object')
      for (const k in v as Record<string, unknown>) {
        if (k === 'data' || k === 'model' || k === 'fallbacks') continue;
        stack.push((v as Record<string, unknown>)[k]);
      }
  }
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

export function estimateTokensOfChars(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/**
 * What to charge when a request ends: the upstream's usage when it reported
 * it for a complete answer; for a stream cut short, what was streamed (the
 * upstream's counts so far, at least the delivered text) and the prompt
 * (upstream's, else estimated).
 */
export function chargeFor(
  upstream: CanonicalUsage | undefined,
  partial: boolean,
  promptEstimate: number,
  outputChars: number,
): { prompt: number; completion: number; partial: boolean } {
  if (!partial && upstream)
    return { prompt: upstream.inputTokens, completion: upstream.outputTokens, partial: false };
  const prompt = upstream && upstream.inputTokens > 0 ? upstream.inputTokens : promptEstimate;
  const completion = Math.max(upstream?.outputTokens ?? 0, estimateTokensOfChars(outputChars));
  return { prompt, completion, partial: partial || !upstream };
}
