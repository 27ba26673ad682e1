import type { ServerResponse } from 'node:http';
import { UpstreamError } from '../providers/types.js';
import { HttpError } from '../server/errors.js';
import type { CanonicalUsage, StreamEvent } from './canonical.js';
import type { InboundAdapter, InboundInput } from './inbound/types.js';
import { StreamCheck } from './stream-check.js';
import type { Target } from './targets.js';

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** How a stream ended, for settlement, the request record and the key router. */
export interface StreamResult {
  /** The upstream's usage, when it reported any. */
  usage: CanonicalUsage | undefined;
  /** Characters of generated text delivered to the client (to charge a stream cut short without usage). */
  outputChars: number;
  /** The stream did not reach its end (client abort, upstream failure, limit). */
  partial: boolean;
  /** Milliseconds from `startedAt` to the first byte written. */
  ttftMs: number | undefined;
  /** What broke the stream, if anything (already sent to the client as an error event). */
  error?: HttpError;
  clientClosed: boolean;
  /** The upstream's events as received, cut at `logBytes` (unscrubbed: the caller scrubs for its log). */
  body?: Buffer;
}

/**
 * A streaming answer: bytes through when the upstream speaks the client's
 * format (usage captured on the way, each event checked for the format's
 * shape, the provider's secrets scrubbed), else provider decoder → canonical
 * events → the client's encoder. A stream that breaks after the first byte
 * ends with a proper error event in the client's format, never a reset.
 */
export async function respondStream(
  res: ServerResponse,
  inbound: InboundAdapter,
  input: InboundInput,
  target: Target,
  source: AsyncIterable<Buffer>,
  headers: Record<string, string>,
  startedAt: number,
  onFirstByte?: () => void,
  /** Keep up to this many bytes of what the upstream sent, for the request log (0: none). */
  logBytes = 0,
): Promise<StreamResult> {
  const result: StreamResult = {
    usage: undefined,
    outputChars: 0,
    partial: true,
    ttftMs: undefined,
    clientClosed: false,
  };
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  const firstByte = (): void => {
    if (result.ttftMs !== undefined) return;
    result.ttftMs = performance.now() - startedAt;
    onFirstByte?.();
  };
  /** The stream's last bytes, sent with the terminator in one write (`res.end(tail)`). */
  let tail: string | undefined;
  const write = async (chunk: Buffer | string): Promise<void> => {
    if (chunk.length === 0 || res.destroyed) return;
    firstByte();
    if (!res.write(chunk) && !res.destroyed)
      await new Promise<void>((r) => {
        const done = () => {
          res.off('drain', done).off('close', done);
          r();
        };
        res.on('drain', done).on('close', done);
      });
  };
  const encoder = inbound.streamEncoder(target.ref, input);
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const keep = (chunk: Buffer): void => {
    if (keptBytes >= logBytes) return;
    const part = chunk.length > logBytes - keptBytes ? chunk.subarray(0, logBytes - keptBytes) : chunk;
    kept.push(part);
    keptBytes += part.length;
  };
  const scrubber = target.entry.scrubber;
  try {
    if (target.passThrough) {
      const pt = inbound.passThroughStream(input);
      const check = StreamCheck.for(inbound.format);
      const scrub = scrubber.empty ? undefined : scrubber.stream();
      /** Writes the good events of `out`; false (error set) at the first bad one. */
      const forward = async (out: Buffer, final: boolean): Promise<boolean> => {
        const bad = check ? check.firstBad(out, final) : -1;
        const good = bad === -1 ? out : out.subarray(0, bad);
        if (good.length > 0) await write(scrub ? scrub.push(good) : good);
        if (bad === -1) return true;
        result.error = new HttpError(
          502,
          `upstream ${target.entry.name} sent a malformed stream event`,
          'upstream_error',
          'upstream_bad_response',
        );
        return false;
      };
      let ok = true;
      try {
        for await (const chunk of source) {
          if (res.destroyed) break;
          if (logBytes > 0) keep(chunk);
          const out = pt.push(chunk);
          if (out) ok = await forward(out, false);
          if (!ok) break;
        }
        if (ok) {
          const rest = pt.flush();
          if (rest) ok = await forward(rest, true);
        }
        const held = scrub?.flush();
        if (held) await write(held);
        if (result.error && !res.destroyed) await write(encoder.error(result.error));
        result.partial = res.destroyed || !ok;
      } finally {
        result.usage = pt.usage;
        result.outputChars = pt.outputChars;
      }
    } else {
      const decoder = target.entry.provider.streamDecoder(inbound.op, target.model);
      let ended = false;
      const events = scrubber.empty ? undefined : scrubber.events();
      const take = (decoded: readonly StreamEvent[]): string => {
        const list = events ? events.events(decoded) : decoded;
        for (const e of list) {
          if (e.type === 'usage') result.usage = e.usage;
          else if (e.type === 'start' && e.usage) result.usage = e.usage;
          else if (e.type === 'text' || e.type === 'reasoning') result.outputChars += e.text.length;
          else if (e.type === 'tool_call_delta') result.outputChars += e.arguments.length;
          else if (e.type === 'error')
            result.error = new HttpError(502, e.message, 'upstream_error', e.code ?? 'upstream_error');
          else if (e.type === 'end') ended = true;
        }
        // Text is scrubbed per channel across events (EventScrub); what else the encoder writes, per write.
        return scrubber.scrubText(encoder.events(list));
      };
      for await (const chunk of source) {
        if (res.destroyed) break;
        if (logBytes > 0) keep(chunk);
        const text = take(decoder.push(chunk));
        if (ended || result.error) {
          tail = text;
          break;
        }
        await write(text);
      }
      if (!res.destroyed && !ended && !result.error) tail = take(decoder.end());
      result.partial = res.destroyed || !!result.error;
    }
  } catch (err) {
    result.partial = true;
    if (err instanceof UpstreamError && err.kind === 'aborted') result.clientClosed = true;
    else {
      result.error =
        err instanceof HttpError
          ? err
          : err instanceof UpstreamError
            ? new HttpError(
                err.kind === 'timeout' ? 504 : 502,
                err.message,
                'upstream_error',
                `upstream_${err.kind}`,
              )
            : new HttpError(502, 'upstream stream failed', 'upstream_error', 'upstream_bad_response');
      if (!res.destroyed) {
        if (tail) await write(tail);
        tail = undefined;
        await write(encoder.error(result.error));
      }
    }
  }
  if (kept.length > 0) result.body = kept.length === 1 ? kept[0] : Buffer.concat(kept);
  if (res.destroyed) result.clientClosed = true;
  else if (tail) {
    firstByte();
    res.end(tail);
  } else res.end();
  return result;
}
