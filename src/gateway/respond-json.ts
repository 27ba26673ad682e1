import type { ServerResponse } from 'node:http';
import type { CanonicalUsage } from './canonical.js';
import type { InboundAdapter, InboundInput } from './inbound/types.js';
import type { Target } from './targets.js';

/**
 * A non-streaming answer: the upstream's bytes unchanged when it speaks the
 * client's format (usage read without a full parse), else decoded by the
 * provider and encoded for the client; the provider's secrets scrubbed either way.
 */
export function respondJson(
  res: ServerResponse,
  inbound: InboundAdapter,
  input: InboundInput,
  target: Target,
  body: Buffer,
  headers: Record<string, string>,
): CanonicalUsage | undefined {
  let out: Buffer | string;
  let usage: CanonicalUsage | undefined;
  // An upstream that reflects what it was sent (its key, a secret header) must not hand it to the client.
  const scrubber = target.entry.scrubber;
  if (target.passThrough) {
    out = scrubber.scrub(body);
    usage = inbound.usageOfJson(body);
  } else {
    const parsed = target.entry.provider.parseResponse(inbound.op, body, target.model);
    usage = 'usage' in parsed ? parsed.usage : undefined;
    out = scrubber.scrubText(JSON.stringify(inbound.encodeResponse(parsed, target.ref, input)));
  }
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(typeof out === 'string' ? Buffer.byteLength(out) : out.length);
  res.writeHead(200, headers);
  res.end(out);
  return usage;
}
