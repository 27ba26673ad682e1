import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { StreamEvent } from '../../gateway/canonical.js';
import type { StreamDecoder } from '../provider.js';
import { isObj, type Obj, str } from '../shared-parts.js';
import { UpstreamError } from '../types.js';

export interface SseEvent {
  event?: string;
  data: string;
}

/**
 * Server-sent events from raw bytes: a streaming UTF-8 decoder (a character
 * split across chunks comes out whole) feeding eventsource-parser. Memory per
 * event is bounded by `maxEventBytes` (characters of one pending event); a
 * larger event throws UpstreamError('bad_response').
 */
export class SseDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });
  private readonly parser: EventSourceParser;
  private out: SseEvent[] = [];
  private overflow = false;

  constructor(private readonly maxEventBytes: number) {
    this.parser = createParser({
      maxBufferSize: maxEventBytes,
      onEvent: (e: EventSourceMessage) => {
        this.out.push(e.event === undefined ? { data: e.data } : { event: e.event, data: e.data });
      },
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') this.overflow = true;
      },
    });
  }

  /** Feeds bytes; returns the events completed by them. */
  push(chunk: Buffer | Uint8Array): SseEvent[] {
    return this.feed(this.utf8.decode(chunk, { stream: true }));
  }

  /** End of input: flushes the decoder; an unterminated last event is dispatched (as browsers do not, but upstreams forget). */
  end(): SseEvent[] {
    const tail = this.utf8.decode();
    const events = this.feed(`${tail}\n\n`);
    return events;
  }

  private feed(text: string): SseEvent[] {
    if (this.overflow) throw tooLarge(this.maxEventBytes);
    if (text.length > 0) this.parser.feed(text);
    if (this.overflow) throw tooLarge(this.maxEventBytes);
    const out = this.out;
    if (out.length === 0) return EMPTY;
    this.out = [];
    return out;
  }
}

const EMPTY: SseEvent[] = [];

function tooLarge(max: number): UpstreamError {
  return new UpstreamError('bad_response', `upstream stream event is larger than the limit of ${max} bytes`);
}

export function sseData(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The loop every JSON-over-SSE provider stream shares (OpenAI, Anthropic,
 * Gemini, Cohere): bytes → SSE events → one JSON object each → `event()`.
 * A malformed or over-large event, or (with `errorObjects`) an
 * `{"error":{…}}` object, ends the stream with an `error` event; nothing
 * throws. After the end, input is ignored.
 */
export abstract class JsonSseStreamDecoder implements StreamDecoder {
  protected ended = false;
  private readonly sse: SseDecoder;
  /** A data payload that ends the stream (OpenAI's and Cohere's "[DONE]"), if the dialect has one. */
  protected readonly doneMarker: string | undefined = undefined;
  /** An object with an `error` object in it is the upstream's error report (OpenAI, Gemini). */
  protected readonly errorObjects: boolean = false;

  constructor(maxEventBytes: number) {
    this.sse = new SseDecoder(maxEventBytes);
  }

  /** One parsed event (`name`: the SSE event field, if any). */
  protected abstract event(j: Obj, name: string | undefined, out: StreamEvent[]): void;
  /** The stream is over (upstream end or done marker): what closes the canonical stream, `end` or an `error`. */
  protected abstract finish(out: StreamEvent[]): void;

  push(chunk: Buffer): StreamEvent[] {
    return this.consume(() => this.sse.push(chunk));
  }

  end(): StreamEvent[] {
    const out = this.consume(() => this.sse.end());
    if (!this.ended) {
      this.ended = true;
      this.finish(out);
    }
    return out;
  }

  /** Ends the stream with an error event. */
  protected fail(out: StreamEvent[], message: string, code: string): void {
    this.ended = true;
    out.push({ type: 'error', message, code });
  }

  private consume(read: () => SseEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.ended) return out;
    let events: SseEvent[];
    try {
      events = read();
    } catch (e) {
      this.fail(out, (e as Error).message, 'upstream_bad_response');
      return out;
    }
    for (const e of events) {
      if (this.ended) break;
      const data = e.data.trim();
      if (data === '') continue;
      if (data === this.doneMarker) {
        this.ended = true;
        this.finish(out);
        break;
      }
      let j: unknown;
      try {
        j = JSON.parse(data);
      } catch {
        j = undefined;
      }
      if (!isObj(j)) {
        this.fail(out, 'upstream sent an invalid stream event', 'upstream_bad_response');
        break;
      }
      if (this.errorObjects && isObj(j.error)) {
        this.fail(out, str(j.error.message, 'upstream stream error'), 'upstream_error');
        break;
      }
      this.event(j, e.event, out);
    }
    return out;
  }
}
