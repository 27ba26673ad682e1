import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

/** Largest frame accepted; Bedrock's are a few KB (one delta each). */
export const MAX_FRAME_BYTES = 1 << 20;
const PRELUDE = 12;
const TRAILER = 4;

export class EventStreamFrameError extends Error {}

/**
 * Incremental `application/vnd.amazon.eventstream` decoder: bytes in any
 * split, whole messages out. Holds at most one partial frame (bounded by
 * MAX_FRAME_BYTES); CRCs and headers are checked by @smithy/eventstream-codec.
 */
export class EventStreamDecoder {
  private readonly codec = new EventStreamCodec(toUtf8, fromUtf8);
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrame = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): Message[] {
    const out: Message[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return out;
      const total = this.peekLength();
      if (total < PRELUDE + TRAILER || total > this.maxFrame) {
        throw new EventStreamFrameError(`event-stream frame of ${total} bytes is out of bounds`);
      }
      if (this.buffered < total) return out;
      out.push(this.codec.decode(this.take(total)));
    }
  }

  /** True when no partial frame is pending (a clean end of stream). */
  get idle(): boolean {
    return this.buffered === 0;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, this.buffered).subarray(0, 4);
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let frame: Buffer;
    if (first.length >= n) {
      frame = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      frame = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return frame;
  }
}

export interface EventStreamEvent {
  /** `event` or `exception` (`:message-type`). */
  messageType: string;
  /** `:event-type` or `:exception-type`. */
  type: string;
  payload: unknown;
}

/** A decoded frame as an event with its JSON payload; a non-JSON payload is reported as a frame error. */
export function toEvent(m: Message): EventStreamEvent {
  const header = (k: string) => {
    const h = m.headers[k];
    return h && h.type === 'string' ? h.value : undefined;
  };
  const messageType = header(':message-type') ?? 'event';
  const type = (messageType === 'exception' ? header(':exception-type') : header(':event-type')) ?? 'unknown';
  let payload: unknown;
  try {
    payload = m.body.length === 0 ? {} : JSON.parse(Buffer.from(m.body).toString('utf8'));
  } catch {
    throw new EventStreamFrameError(`event-stream ${type} payload is not JSON`);
  }
  return { messageType, type, payload };
}

/** Decodes a byte stream into events, frame by frame, never buffering more than one frame. */
export async function* decodeEventStream(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<EventStreamEvent> {
  const decoder = new EventStreamDecoder();
  for await (const chunk of bytes) {
    for (const m of decoder.push(chunk)) yield toEvent(m);
  }
  if (!decoder.idle) throw new EventStreamFrameError('event stream ended inside a frame');
}

/** Encodes one event frame (the fakes and tests use it; Bedrock's own framing). */
export function encodeEvent(
  type: string,
  payload: unknown,
  messageType: 'event' | 'exception' = 'event',
): Uint8Array {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: messageType },
      [messageType === 'exception' ? ':exception-type' : ':event-type']: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}
