import type { StreamEvent } from './canonical.js';

/** Secrets shorter than this are not scrubbed (they would match ordinary words); config keys are far longer. */
export const MIN_SECRET = 6;
export const REDACTED = '[redacted]';

const REDACTED_BYTES = Buffer.from(REDACTED);

/**
 * Takes the secrets sent to one provider's upstream out of its success
 * answers (an upstream that reflects the key or a header in a 200 body would
 * hand it to the client). Built once per provider config; a body without a
 * secret costs one Buffer.indexOf per secret and is returned as is.
 */
export class BodyScrubber {
  /** Longest first, so that a secret containing another is replaced whole. */
  private readonly secrets: Buffer[];
  private readonly texts: string[];

  constructor(secrets: readonly string[]) {
    this.texts = [...new Set(secrets)]
      .filter((s) => s.length >= MIN_SECRET)
      .sort((a, b) => b.length - a.length);
    this.secrets = this.texts.map((s) => Buffer.from(s));
  }

  get empty(): boolean {
    return this.secrets.length === 0;
  }

  /** `buf` without the secrets: the same buffer when none is in it. */
  scrub(buf: Buffer): Buffer {
    let out = buf;
    for (const s of this.secrets) if (out.indexOf(s) !== -1) out = replaceAll(out, s);
    return out;
  }

  scrubText(text: string): string {
    let out = text;
    for (const s of this.texts) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  /** Scrubbing across chunks: a secret split over two chunks is held back until it is whole. */
  stream(): StreamScrub {
    return new StreamScrub(this);
  }

  /** Scrubbing of decoded events across deltas (translated streams). */
  events(): EventScrub {
    return new EventScrub(this);
  }

  /** Length of the longest end of `text` that begins a secret. */
  heldTailText(text: string): number {
    let hold = 0;
    for (const s of this.texts) {
      const from = Math.max(0, text.length - s.length + 1);
      for (let j = text.indexOf(s[0]!, from); j !== -1; j = text.indexOf(s[0]!, j + 1)) {
        if (text.length - j <= hold) break;
        if (s.startsWith(text.slice(j))) {
          hold = text.length - j;
          break;
        }
      }
    }
    return hold;
  }

  /** Length of the longest end of `buf` that begins a secret (a secret cut by the chunk boundary). */
  heldTail(buf: Buffer): number {
    let hold = 0;
    for (const s of this.secrets) {
      const from = Math.max(0, buf.length - s.length + 1);
      for (let j = buf.indexOf(s[0]!, from); j !== -1; j = buf.indexOf(s[0]!, j + 1)) {
        const k = buf.length - j;
        if (k <= hold) break;
        if (buf.compare(s, 0, k, j) === 0) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}

export class StreamScrub {
  private carry: Buffer | undefined;

  constructor(private readonly s: BodyScrubber) {}

  /** Bytes safe to forward now (possibly fewer than given: a secret's start is kept for the next chunk). */
  push(chunk: Buffer): Buffer {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    const out = this.s.scrub(data);
    const hold = this.s.heldTail(out);
    if (hold === 0) return out;
    this.carry = Buffer.from(out.subarray(out.length - hold));
    return out.subarray(0, out.length - hold);
  }

  /** End of the stream: what was held back; a secret's beginning long enough to matter is redacted. */
  flush(): Buffer | undefined {
    const c = this.carry;
    this.carry = undefined;
    if (!c) return undefined;
    return c.length >= MIN_SECRET ? REDACTED_BYTES : c;
  }
}

function replaceAll(buf: Buffer, secret: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (let i = buf.indexOf(secret); i !== -1; i = buf.indexOf(secret, pos)) {
    parts.push(buf.subarray(pos, i), REDACTED_BYTES);
    pos = i + secret.length;
  }
  parts.push(buf.subarray(pos));
  return Buffer.concat(parts);
}

type Delta = Extract<StreamEvent, { type: 'text' | 'reasoning' | 'tool_call_delta' }>;

/**
 * Scrubbing of decoded stream events (translated streams): the text of each
 * channel (a choice's text, its reasoning, each tool call's arguments) is
 * scrubbed as one string across its deltas, so a secret an upstream sends over
 * several events is caught too. The start of a possible secret is held back
 * until the next delta of that channel, or until the channel's choice ends.
 */
export class EventScrub {
  private readonly carry = new Map<string, { ev: Delta; text: string }>();

  constructor(private readonly s: BodyScrubber) {}

  events(events: readonly StreamEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const e of events) {
      if (e.type === 'text' || e.type === 'reasoning' || e.type === 'tool_call_delta') {
        const ch = e.type === 'tool_call_delta' ? `t${e.choice}:${e.index}` : `${e.type}${e.choice}`;
        const prev = this.carry.get(ch);
        const whole = this.s.scrubText(
          (prev?.text ?? '') + (e.type === 'tool_call_delta' ? e.arguments : e.text),
        );
        const hold = this.s.heldTailText(whole);
        const now = whole.slice(0, whole.length - hold);
        if (hold > 0) this.carry.set(ch, { ev: e, text: whole.slice(whole.length - hold) });
        else this.carry.delete(ch);
        if (now.length > 0) out.push(withText(e, now));
      } else {
        if (this.carry.size > 0) this.flushInto(out);
        out.push(e);
      }
    }
    return out;
  }

  /** The held text, as it would have ended: a secret's beginning long enough to matter is redacted. */
  private flushInto(out: StreamEvent[]): void {
    for (const { ev, text } of this.carry.values())
      out.push(withText(ev, text.length >= MIN_SECRET ? REDACTED : text));
    this.carry.clear();
  }
}

function withText(e: Delta, text: string): Delta {
  return e.type === 'tool_call_delta' ? { ...e, arguments: text } : { ...e, text };
}
