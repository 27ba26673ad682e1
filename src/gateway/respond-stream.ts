import type { ServerResponse } from 'node:http';
import { UpstreamError } from '../providers/types.js';
import { HttpError } from '../server/errors.js';
import type { CanonicalUsage, StreamEvent } from './canonical.js';
import type { InboundAdapter, InboundInput } from './inbound/types.js';
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
}

/**
 * A streaming answer: bytes through when the upstream speaks the client's
 * format (usage captured on the way), else provider decoder → canonical
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
): Promise<StreamResult> {
  const result: StreamResult = {
    usage: undefined,
    outputChars: 0,
    partial: true,
    ttftMs: undefined,
    clientClosed: false,
  };
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  const write = async (chunk: Buffer | string): Promise<void> => {
    if (chunk.length === 0 || res.destroyed) return;
    if (result.ttftMs === undefined) {
      result.ttftMs = performance.now() - startedAt;
      onFirstByte?.();
    }
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
  try {
    if (target.passThrough) {
      const pt = inbound.passThroughStream(input);
      try {
        for await (const chunk of source) {
          if (res.destroyed) break;
          const out = pt.push(chunk);
          if (out) await write(out);
        }
        const rest = pt.flush();
        if (rest) await write(rest);
        result.partial = res.destroyed;
      } finally {
        result.usage = pt.usage;
        result.outputChars = pt.outputChars;
      }
    } else {
      const decoder = target.entry.provider.streamDecoder(inbound.op, target.model);
      let ended = false;
      const take = (events: readonly StreamEvent[]): string => {
        for (const e of events) {
          if (e.type === 'usage') result.usage = e.usage;
          else if (e.type === 'start' && e.usage) result.usage = e.usage;
          else if (e.type === 'text' || e.type === 'reasoning') result.outputChars += e.text.length;
          else if (e.type === 'tool_call_delta') result.outputChars += e.arguments.length;
          else if (e.type === 'error')
            result.error = new HttpError(502, e.message, 'upstream_error', e.code ?? 'upstream_error');
          else if (e.type === 'end') ended = true;
        }
        return encoder.events(events);
      };
      for await (const chunk of source) {
        if (res.destroyed) break;
        await write(take(decoder.push(chunk)));
        if (ended || result.error) break;
      }
      if (!res.destroyed && !ended && !result.error) await write(take(decoder.end()));
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
      if (!res.destroyed) await write(encoder.error(result.error));
    }
  }
  if (res.destroyed) result.clientClosed = true;
  else res.end();
  return result;
}
