import type { CanonicalUsage } from '../canonical.js';
import { findUsageObject, foldUsage, parseObjectAt, type TokenCount, usageOfJson } from '../usage.js';
import type { PassThroughStream } from './types.js';

type Obj = Record<string, unknown>;

/** Canonical usage → OpenAI's usage object. */
export function openaiUsageJson(u: CanonicalUsage | undefined): Obj {
  const prompt = u?.inputTokens ?? 0;
  const completion = u?.outputTokens ?? 0;
  const out: Obj = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (u?.cachedInputTokens) out.prompt_tokens_details = { cached_tokens: u.cachedInputTokens };
  if (u?.reasoningTokens) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}

export function toCanonical(t: TokenCount | undefined): CanonicalUsage | undefined {
  return t ? { inputTokens: t.prompt, outputTokens: t.completion } : undefined;
}

/** Usage of a passed-through JSON answer (OpenAI or Anthropic shape): the last usage object, no full parse. */
export function usageOfOpenAIJson(body: Buffer): CanonicalUsage | undefined {
  return toCanonical(usageOfJson(body));
}

const TEXT_KEYS = [
  '"content":"',
  '"text":"',
  '"arguments":"',
  '"partial_json":"',
  '"reasoning_content":"',
].map((k) => Buffer.from(k));
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Characters of generated text in SSE bytes (string values of the delta keys), without parsing JSON. */
export function deltaChars(buf: Buffer): number {
  let n = 0;
  for (const key of TEXT_KEYS) {
    let i = buf.indexOf(key);
    while (i !== -1) {
      let j = i + key.length;
      for (; j < buf.length; j++) {
        const c = buf[j]!;
        if (c === BACKSLASH) j++;
        else if (c === QUOTE) break;
        // Count characters, not bytes: skip UTF-8 continuation bytes.
        if ((c & 0xc0) !== 0x80) n++;
      }
      i = buf.indexOf(key, j);
    }
  }
  return n;
}

const MAX_PENDING_EVENT = 1024 * 1024;

/**
 * Same-format streams: bytes go through unchanged, cut at event boundaries;
 * events carrying a usage object are read for token counts, and (OpenAI) the
 * usage-only chunk is dropped when the client did not ask for it.
 */
export class OpenAIPassThrough implements PassThroughStream {
  private pending: Buffer | undefined;
  private counted: TokenCount = { prompt: 0, completion: 0 };
  private sawUsage = false;
  outputChars = 0;

  constructor(private readonly dropUsageOnly: boolean) {}

  get usage(): CanonicalUsage | undefined {
    return this.sawUsage
      ? { inputTokens: this.counted.prompt, outputTokens: this.counted.completion }
      : undefined;
  }

  push(chunk: Buffer): Buffer | undefined {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const a = data.lastIndexOf('\n\n');
    const b = data.lastIndexOf('\r\n\r\n');
    const cut = Math.max(a === -1 ? -1 : a + 2, b === -1 ? -1 : b + 4);
    if (cut === -1) {
      // No event boundary yet; an upstream that never sends one is passed through rather than buffered without bound.
      if (data.length > MAX_PENDING_EVENT) {
        this.pending = undefined;
        return this.seen(data);
      }
      this.pending = data;
      return undefined;
    }
    this.pending = cut < data.length ? data.subarray(cut) : undefined;
    const out = cut === data.length ? data : data.subarray(0, cut);
    return this.seen(out);
  }

  flush(): Buffer | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p ? this.seen(p) : undefined;
  }

  private seen(buf: Buffer): Buffer {
    this.outputChars += deltaChars(buf);
    return findUsageObject(buf) === -1 ? buf : this.inspect(buf);
  }

  private inspect(buf: Buffer): Buffer {
    let at = findUsageObject(buf);
    let drop: [number, number][] | undefined;
    while (at !== -1) {
      const u = parseObjectAt(buf, at);
      if (u) {
        foldUsage(u, this.counted);
        this.sawUsage = true;
      }
      if (this.dropUsageOnly) {
        const startNl = buf.lastIndexOf('\n\n', at);
        const start = startNl === -1 ? 0 : startNl + 2;
        const endNl = buf.indexOf('\n\n', at);
        const end = endNl === -1 ? buf.length : endNl + 2;
        const ev = buf.toString('utf8', start, end);
        const dataAt = ev.indexOf('data:');
        if (dataAt !== -1) {
          try {
            const e = JSON.parse(ev.slice(dataAt + 5)) as Obj;
            if (Array.isArray(e.choices) && e.choices.length === 0) {
              drop ??= [];
              drop.push([start, end]);
            }
          } catch {
            /* keep it */
          }
        }
      }
      at = findUsageObject(buf, at + 1);
    }
    if (!drop) return buf;
    const parts: Buffer[] = [];
    let pos = 0;
    for (const [s, e] of drop) {
      if (s > pos) parts.push(buf.subarray(pos, s));
      pos = e;
    }
    if (pos < buf.length) parts.push(buf.subarray(pos));
    return Buffer.concat(parts);
  }
}
