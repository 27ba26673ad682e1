import type { WireFormat } from './canonical.js';

type Obj = Record<string, unknown>;

/** Whether one event's `data` (the parsed JSON of its data lines) is an event of this format. */
export type EventShape = (data: unknown) => boolean;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** OpenAI chat / completions chunk: a choices array, or an error or usage object. */
const openaiChunk: EventShape = (d) =>
  isObj(d) && (Array.isArray(d.choices) || isObj(d.error) || isObj(d.usage));
/** Anthropic messages and OpenAI Responses events name their type. */
const typedEvent: EventShape = (d) => isObj(d) && typeof d.type === 'string';
/** Gemini: one GenerateContentResponse (or an error) per event. */
const geminiChunk: EventShape = (d) =>
  isObj(d) &&
  (Array.isArray(d.candidates) || isObj(d.usageMetadata) || isObj(d.promptFeedback) || isObj(d.error));

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const DATA = Buffer.from('data:');

/**
 * Checks passed-through SSE before it is forwarded: every event with data
 * must be JSON of the format's shape (OpenAI: also `[DONE]`). Costs one
 * JSON.parse per event, no copy of the bytes. An upstream that sends
 * anything else mid-stream is broken, and the client gets an error event
 * instead of bytes its SDK would choke on or take for success.
 */
export class StreamCheck {
  constructor(
    private readonly shape: EventShape,
    private readonly done: boolean,
  ) {}

  /** The check for a client format, or undefined for formats that are not checked. */
  static for(format: WireFormat): StreamCheck | undefined {
    return CHECKS.get(format);
  }

  /**
   * Byte offset of the first bad event in `buf`, or -1 when all are good.
   * `buf` holds whole events; an event left open at its end is bad unless
   * `final` (the end of the upstream: a last event without its blank line
   * is read as if it had one).
   */
  firstBad(buf: Buffer, final: boolean): number {
    const n = buf.length;
    let start = 0;
    let data: string | undefined;
    let i = 0;
    while (i < n) {
      const lf = buf.indexOf(LF, i);
      const next = lf === -1 ? n : lf + 1;
      const eol = lf === -1 ? n : lf > i && buf[lf - 1] === CR ? lf - 1 : lf;
      if (eol === i) {
        // A blank line ends the event; the next one starts after it.
        if (data !== undefined && !this.good(data)) return start;
        data = undefined;
        start = next;
      } else if (eol - i >= 5 && buf.compare(DATA, 0, 5, i, i + 5) === 0) {
        const v = buf[i + 5] === SPACE ? i + 6 : i + 5;
        const line = buf.toString('utf8', v, eol);
        data = data === undefined ? line : `${data}\n${line}`;
      }
      // Other fields (event:, id:, retry:) and comments carry nothing to check.
      i = next;
    }
    if (start >= n) return -1;
    // An event still open: the pass-through only hands one over when it outgrew its buffer.
    if (!final) return start;
    return data !== undefined && !this.good(data) ? start : -1;
  }

  private good(data: string): boolean {
    if (this.done && data === '[DONE]') return true;
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      return false;
    }
    return this.shape(v);
  }
}

/** Stateless (the pass-through hands over whole events): one per format. */
const CHECKS = new Map<WireFormat, StreamCheck>(
  (
    [
      ['openai.chat', openaiChunk, true],
      ['openai.completions', openaiChunk, true],
      ['openai.responses', typedEvent, false],
      ['anthropic.messages', typedEvent, false],
      ['gemini.generate', geminiChunk, false],
    ] as const
  ).map(([f, shape, done]) => [f, new StreamCheck(shape, done)]),
);
