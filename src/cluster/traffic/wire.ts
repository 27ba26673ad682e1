import { z } from 'zod';
import type { KeyQuota, KeyStats, NodeHealth } from './types.js';

/**
 * The traffic gossip payload: JSON arrays of numbers (compact, schema-checked
 * on receipt). One message carries this node's health and the entries whose
 * window summary changed since the last one; each fits in one gossip packet
 * (≤ MAX_CHUNK_BYTES), so a node with many entries sends several chunks.
 * Values are absolute window sums, not increments: a lost or replaced
 * broadcast costs freshness, never correctness.
 */
export const MAX_CHUNK_BYTES = 1000;
const MAX_NAME = 128;

const name = z.string().min(1).max(MAX_NAME);
// Epoch milliseconds (quota times) are ~1.8e12: the bound leaves room for them.
const num = z.number().finite().min(0).max(1e14);
const count = z.number().int().min(0).max(1e9);
const maybe = num.nullable();

const statsTuple = z.tuple([
  name,
  name,
  name,
  count,
  count,
  count,
  count,
  count,
  count,
  count,
  num,
  num,
  num,
  num,
  num,
]);
const quotaTuple = z.tuple([name, name, num, maybe, maybe, maybe, maybe, maybe, maybe, maybe]);
const healthTuple = z.tuple([num, num, num, count, num]);

const messageSchema = z.strictObject({
  v: z.literal(1),
  h: healthTuple.optional(),
  s: z.array(statsTuple).max(64).optional(),
  q: z.array(quotaTuple).max(64).optional(),
});

export interface TrafficMessage {
  health?: NodeHealth;
  stats: KeyStats[];
  quotas: KeyQuota[];
}

export function statsToTuple(s: KeyStats): z.infer<typeof statsTuple> {
  return [
    s.provider,
    s.key,
    s.model,
    s.requests,
    s.ok,
    s.rateLimited,
    s.serverErrors,
    s.timeouts,
    s.connectErrors,
    s.otherErrors,
    s.latencyMs,
    s.p50Ms,
    s.p99Ms,
    s.ttftMs,
    s.ttftP99Ms,
  ];
}

function quotaToTuple(q: KeyQuota): z.infer<typeof quotaTuple> {
  return [
    q.provider,
    q.key,
    q.at,
    q.requests?.limit ?? null,
    q.requests?.remaining ?? null,
    q.requests?.resetAt ?? null,
    q.tokens?.limit ?? null,
    q.tokens?.remaining ?? null,
    q.tokens?.resetAt ?? null,
    q.retryUntil ?? null,
  ];
}

/** Splits a message into JSON chunks of at most MAX_CHUNK_BYTES; health rides in the first. Over-long names are skipped. */
export function encodeTraffic(m: TrafficMessage): Buffer[] {
  const chunks: Buffer[] = [];
  let cur: { v: 1; h?: z.infer<typeof healthTuple>; s: unknown[]; q: unknown[] } = { v: 1, s: [], q: [] };
  if (m.health) {
    const h = m.health;
    cur.h = [h.cpu, h.rssMb, h.loopLagMs, Math.round(h.inFlight), h.rps];
  }
  let size = Buffer.byteLength(JSON.stringify(cur));
  const flush = () => {
    const out: Record<string, unknown> = { v: 1 };
    if (cur.h) out.h = cur.h;
    if (cur.s.length) out.s = cur.s;
    if (cur.q.length) out.q = cur.q;
    chunks.push(Buffer.from(JSON.stringify(out)));
    cur = { v: 1, s: [], q: [] };
    size = Buffer.byteLength(JSON.stringify(cur));
  };
  const add = (field: 's' | 'q', tuple: unknown[], names: string[]) => {
    if (names.some((n) => n.length === 0 || n.length > MAX_NAME)) return;
    const len = Buffer.byteLength(JSON.stringify(tuple)) + 1;
    // Names full of escaped characters could outgrow a packet on their own: such an entry stays local.
    if (len > MAX_CHUNK_BYTES - 120) return;
    if ((cur.s.length + cur.q.length > 0 && size + len > MAX_CHUNK_BYTES) || cur[field].length >= 64) flush();
    cur[field].push(tuple);
    size += len;
  };
  for (const s of m.stats) add('s', statsToTuple(s), [s.provider, s.key, s.model]);
  for (const q of m.quotas) add('q', quotaToTuple(q), [q.provider, q.key]);
  if (cur.h || cur.s.length || cur.q.length || chunks.length === 0) flush();
  return chunks;
}

/** Parses one chunk; undefined for anything that does not match the schema (never throws). */
export function decodeTraffic(buf: Buffer): TrafficMessage | undefined {
  if (buf.length > 64 * 1024) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = messageSchema.safeParse(raw);
  if (!r.success) return undefined;
  const m = r.data;
  const out: TrafficMessage = { stats: [], quotas: [] };
  if (m.h) out.health = { cpu: m.h[0], rssMb: m.h[1], loopLagMs: m.h[2], inFlight: m.h[3], rps: m.h[4] };
  for (const t of m.s ?? [])
    out.stats.push({
      provider: t[0],
      key: t[1],
      model: t[2],
      requests: t[3],
      ok: t[4],
      rateLimited: t[5],
      serverErrors: t[6],
      timeouts: t[7],
      connectErrors: t[8],
      otherErrors: t[9],
      latencyMs: t[10],
      p50Ms: t[11],
      p99Ms: t[12],
      ttftMs: t[13],
      ttftP99Ms: t[14],
    });
  for (const t of m.q ?? []) {
    const q: KeyQuota = { provider: t[0], key: t[1], at: t[2] };
    if (t[3] !== null && t[4] !== null && t[5] !== null)
      q.requests = { limit: t[3], remaining: t[4], resetAt: t[5] };
    if (t[6] !== null && t[7] !== null && t[8] !== null)
      q.tokens = { limit: t[6], remaining: t[7], resetAt: t[8] };
    if (t[9] !== null) q.retryUntil = t[9];
    out.quotas.push(q);
  }
  return out;
}
