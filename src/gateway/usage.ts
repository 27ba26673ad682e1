/** Cheap token-usage extraction from upstream bytes, without parsing whole bodies. */

export interface TokenCount {
  prompt: number;
  completion: number;
}

type Obj = Record<string, unknown>;

const USAGE = Buffer.from('"usage"');
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index of the `{` starting a `"usage": {` value at or after `from`, or -1 (skips `"usage": null`). */
export function findUsageObject(buf: Buffer, from = 0): number {
  let i = buf.indexOf(USAGE, from);
  while (i !== -1) {
    let j = i + USAGE.length;
    while (j < buf.length && buf[j] !== 0x3a && buf[j]! <= 0x20) j++;
    if (buf[j] === 0x3a) {
      j++;
      while (j < buf.length && buf[j]! <= 0x20) j++;
      if (buf[j] === OPEN) return j;
    }
    i = buf.indexOf(USAGE, i + USAGE.length);
  }
  return -1;
}

/** Parses the JSON object starting at `start` (a `{`), or undefined. */
export function parseObjectAt(buf: Buffer, start: number): Obj | undefined {
  let depth = 0;
  let inStr = false;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i]!;
    if (inStr) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inStr = false;
    } else if (c === QUOTE) inStr = true;
    else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) {
      try {
        return JSON.parse(buf.toString('utf8', start, i + 1)) as Obj;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Folds an OpenAI (`prompt_tokens`) or Anthropic (`input_tokens`) usage object into `acc`. */
export function foldUsage(u: Obj, acc: TokenCount): void {
  if (typeof u.prompt_tokens === 'number') {
    acc.prompt = u.prompt_tokens;
    acc.completion = typeof u.completion_tokens === 'number' ? u.completion_tokens : acc.completion;
    return;
  }
  const input =
    Number(u.input_tokens ?? 0) +
    Number(u.cache_read_input_tokens ?? 0) +
    Number(u.cache_creation_input_tokens ?? 0);
  if (input > 0) acc.prompt = input;
  if (typeof u.output_tokens === 'number') acc.completion = u.output_tokens;
}

/** Usage of a whole JSON answer: the last `"usage": {...}` in it. */
export function usageOfJson(buf: Buffer): TokenCount | undefined {
  let at = -1;
  let i = findUsageObject(buf);
  while (i !== -1) {
    at = i;
    i = findUsageObject(buf, i + 1);
  }
  if (at === -1) return undefined;
  const u = parseObjectAt(buf, at);
  if (!u) return undefined;
  const acc = { prompt: 0, completion: 0 };
  foldUsage(u, acc);
  return acc;
}
