import { z } from 'zod';
import { HLC_PATTERN } from './hlc.js';

/**
 * Replication messages on gossip channel 4, JSON, validated on receipt.
 * Everything is bounded: message bytes before parsing, entity counts and
 * string lengths by the schemas. What an entity's `data` may contain is
 * checked afterwards with the admin API's own schemas (see replicator.ts).
 */
export const CHANNEL_REPLICATION = 4;

/** Largest message we send or parse (a TCP user message; the UDP path is used below ~1 KB). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Deltas at most this big also ride the gossip broadcast queue (piggybacked, retransmitted). */
export const MAX_BROADCAST_BYTES = 900;
export const MAX_ENTITIES_PER_DELTA = 512;
export const MAX_DIGEST_ENTRIES = 100_000;
export const BUCKETS = 64;

const id = z.string().min(1).max(256);
const hlc = z.string().max(300).regex(HLC_PATTERN);
const kind = z.string().min(1).max(64);

export const wireEntitySchema = z.strictObject({
  k: kind,
  id,
  v: hlc,
  d: z.boolean(),
  data: z.record(z.string(), z.unknown()).nullable(),
});
export type WireEntity = z.infer<typeof wireEntitySchema>;

/** Push/pull and periodic summary: bucket hashes of (kind, id, version) over the whole replica. */
export const summarySchema = z.strictObject({
  t: z.literal('summary'),
  from: z.string().min(1).max(255),
  /** This replica is older than the tombstone horizon and must not be merged from. */
  stale: z.boolean(),
  n: z.number().int().min(0),
  b: z.array(z.string().max(32)).length(BUCKETS),
  /** An answer to a summary sent directly (answers are not answered again). */
  reply: z.boolean().optional(),
});

/** The versions this node holds in the listed buckets (`file` as version: owned by that node's config file). */
export const digestSchema = z.strictObject({
  t: z.literal('digest'),
  /** The sender is catching up (start, rejoin, resync): answer with the persisted usage as well. */
  init: z.boolean().optional(),
  b: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(BUCKETS - 1),
    )
    .max(BUCKETS),
  e: z.array(z.tuple([kind, id, z.union([hlc, z.literal('file')])])).max(MAX_DIGEST_ENTRIES),
});

export const deltaSchema = z.strictObject({
  t: z.literal('delta'),
  e: z.array(wireEntitySchema).max(MAX_ENTITIES_PER_DELTA),
  /** Last message answering a digest: the digest's sender is now up to date with us. */
  ack: z.boolean().optional(),
});

export const pullSchema = z.strictObject({
  t: z.literal('pull'),
  want: z.array(z.tuple([kind, id])).max(MAX_DIGEST_ENTRIES),
});

export const MAX_USAGE_ROWS_PER_MESSAGE = 20_000;

/** Persisted usage slots (counter, window start, node, value), merged by max like the store does. */
export const usageSchema = z.strictObject({
  t: z.literal('usage'),
  r: z
    .array(
      z.tuple([
        z.string().min(1).max(512),
        z.number().int().min(0),
        z.string().min(1).max(255),
        z.number().finite().min(0).max(1e15),
      ]),
    )
    .max(MAX_USAGE_ROWS_PER_MESSAGE),
});

export const messageSchema = z.discriminatedUnion('t', [
  summarySchema,
  digestSchema,
  deltaSchema,
  pullSchema,
  usageSchema,
]);
export type UsageMessage = z.infer<typeof usageSchema>;
export type Summary = z.infer<typeof summarySchema>;
export type Digest = z.infer<typeof digestSchema>;
export type Delta = z.infer<typeof deltaSchema>;
export type Pull = z.infer<typeof pullSchema>;
export type Message = z.infer<typeof messageSchema>;

export function encodeMessage(m: Message): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/** Undefined for anything that is not a well-formed message of ours, whatever the bytes. */
export function decodeMessage(buf: Buffer): Message | undefined {
  if (buf.length === 0 || buf.length > MAX_MESSAGE_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = messageSchema.safeParse(raw);
  return r.success ? r.data : undefined;
}

/** Splits entities into deltas that each stay under the message limits. */
export function chunkDeltas(entities: WireEntity[], maxBytes = MAX_MESSAGE_BYTES - 1024): Delta[] {
  const out: Delta[] = [];
  let cur: WireEntity[] = [];
  let size = 0;
  for (const e of entities) {
    const s = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (s > maxBytes) continue; // cannot travel; the admin API bounds bodies far below this
    if (cur.length > 0 && (size + s > maxBytes || cur.length >= MAX_ENTITIES_PER_DELTA)) {
      out.push({ t: 'delta', e: cur });
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += s;
  }
  if (cur.length > 0) out.push({ t: 'delta', e: cur });
  return out;
}
