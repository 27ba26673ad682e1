import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
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
