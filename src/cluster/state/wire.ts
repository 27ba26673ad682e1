/**
 * The counters' gossip message (channel 2), JSON: who sent it, its process
 * start, whether it is its full state or relayable gossip, slots per counter
 * window, and the anti-entropy digest and want list. Decoding is the edge:
 * anything from the network is validated and bounded here, and what does not
 * fit is dropped, never thrown. Encoding splits into messages of a bounded size.
 */

export type WireSlot = [
  node: string,
  used: number,
  cap: number,
  ver: number,
  d: number,
  nx: number,
  a?: number,
];
/** ackReq 1: a claim; the receiver answers with its copy of the sender's slot (the echo). */
export type WireWin = [key: string, ws: number, we: number, ackReq: 0 | 1, slots: WireSlot[]];
/** Anti-entropy: a window and the hash of every slot the sender knows in it. */
export type WireDigest = [key: string, ws: number, we: number, hash: number];
export interface WireMsg {
  n: string;
  /** Sender's process start time. */
  h?: number;
  /** 1: this is the sender's full state. */
  f?: 1;
  /** 1: gossip the receiver forwards (what is new to it) to its own fan-out. */
  r?: 1;
  w: WireWin[];
  /** Digest of the sender's recently changed windows: the receiver answers with what differs. */
  g?: WireDigest[];
  /** Windows the sender wants in full (its digest differed or it has none). */
  q?: [key: string, ws: number][];
}

/** Push/pull state can be large (every window of every key in use); single messages stay under 900 bytes. */
export const MAX_MESSAGE_BYTES = 8 << 20;
export const MAX_PAYLOAD = 900;
const MAX_NAME = 256;
const MAX_KEY = 512;
const MAX_WINDOWS = 100_000;
const MAX_SLOTS = 10_000;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const name = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/** Parses and validates one message; undefined when it is not one. Invalid entries inside are skipped. */
export function decodeCounterMessage(payload: Buffer): WireMsg | undefined {
  if (payload.length === 0 || payload.length > MAX_MESSAGE_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (!name(m.n, MAX_NAME) || !Array.isArray(m.w) || m.w.length > MAX_WINDOWS) return undefined;
  const out: WireMsg = { n: m.n, w: [] };
  if (finite(m.h)) out.h = m.h;
  if (m.f === 1) out.f = 1;
  if (m.r === 1) out.r = 1;
  for (const e of m.w) {
    if (!Array.isArray(e) || e.length < 5) continue;
    const [key, ws, we, ack, slots] = e as unknown[];
    if (!name(key, MAX_KEY) || !finite(ws) || !finite(we) || we <= ws || !Array.isArray(slots)) continue;
    if (slots.length > MAX_SLOTS) continue;
    const good: WireSlot[] = [];
    for (const s of slots) {
      if (!Array.isArray(s) || s.length < 6) continue;
      const [node, used, cap, ver, d, nx, a] = s as unknown[];
      if (!name(node, MAX_NAME) || !finite(used) || !finite(cap) || !finite(ver)) continue;
      if (used < 0 || cap < 0) continue;
      const slot: WireSlot = [node, used, cap, ver, finite(d) ? d : 0, finite(nx) ? nx : 0];
      if (finite(a) && a > 0) slot.push(a);
      good.push(slot);
    }
    out.w.push([key, ws, we, ack === 1 ? 1 : 0, good]);
  }
  if (Array.isArray(m.g) && m.g.length <= MAX_WINDOWS) {
    const g: WireDigest[] = [];
    for (const e of m.g) {
      if (!Array.isArray(e) || e.length < 4) continue;
      const [key, ws, we, hash] = e as unknown[];
      if (!name(key, MAX_KEY) || !finite(ws) || !finite(we) || we <= ws || !finite(hash)) continue;
      g.push([key, ws, we, hash]);
    }
    if (g.length > 0) out.g = g;
  }
  if (Array.isArray(m.q) && m.q.length <= MAX_WINDOWS) {
    const q: [string, number][] = [];
    for (const e of m.q) {
      if (!Array.isArray(e) || e.length < 2) continue;
      const [key, ws] = e as unknown[];
      if (name(key, MAX_KEY) && finite(ws)) q.push([key, ws]);
    }
    if (q.length > 0) out.q = q;
  }
  return out;
}

/**
 * Encodes `entries` as messages of at most about `maxBytes` each; a window with more slots than fit is
 * split into several entries of the same window (slots merge one by one, so the split is harmless).
 * With `full` only the last message carries the full-state marker, so "synced" means every chunk
 * before it arrived (or the peer sends its state again later).
 */
export function encodeMessages(
  head: Omit<WireMsg, 'w' | 'f'>,
  entries: readonly WireWin[],
  full = false,
  maxBytes = MAX_PAYLOAD,
): Buffer[] {
  const out: Buffer[] = [];
  const mk = (w: WireWin[], last: boolean): Buffer => {
    const m: WireMsg = { ...head, w };
    if (full && last) m.f = 1;
    return Buffer.from(JSON.stringify(m));
  };
  const headLen = mk([], true).length;
  let cur: WireWin[] = [];
  let size = headLen;
  const flush = () => {
    out.push(mk(cur, false));
    cur = [];
    size = headLen;
  };
  for (const [key, ws, we, ack, slots] of entries) {
    const entryHead = JSON.stringify([key, ws, we, ack, []]).length + 1;
    let part: WireSlot[] = [];
    let partLen = entryHead;
    for (const s of slots) {
      const len = JSON.stringify(s).length + 1;
      if (part.length > 0 && size + partLen + len > maxBytes) {
        cur.push([key, ws, we, ack, part]);
        flush();
        part = [];
        partLen = entryHead;
      } else if (part.length === 0 && cur.length > 0 && size + partLen + len > maxBytes) flush();
      part.push(s);
      partLen += len;
    }
    if (cur.length > 0 && size + partLen > maxBytes) flush();
    cur.push([key, ws, we, ack, part]);
    size += partLen;
  }
  out.push(mk(cur, true));
  return out;
}

/** Encodes a digest (and want list) in messages of at most about `maxBytes`. */
export function encodeDigest(
  head: Omit<WireMsg, 'w' | 'g' | 'q'>,
  digest: readonly WireDigest[],
  want: readonly [string, number][] = [],
  maxBytes = MAX_PAYLOAD,
): Buffer[] {
  const out: Buffer[] = [];
  let g: WireDigest[] = [];
  let q: [string, number][] = [];
  let size = JSON.stringify({ ...head, w: [], g: [], q: [] }).length;
  const base = size;
  const flush = () => {
    const m: WireMsg = { ...head, w: [] };
    if (g.length > 0) m.g = g;
    if (q.length > 0) m.q = q;
    out.push(Buffer.from(JSON.stringify(m)));
    g = [];
    q = [];
    size = base;
  };
  for (const d of digest) {
    const len = JSON.stringify(d).length + 1;
    if (g.length + q.length > 0 && size + len > maxBytes) flush();
    g.push(d);
    size += len;
  }
  for (const e of want) {
    const len = JSON.stringify(e).length + 1;
    if (g.length + q.length > 0 && size + len > maxBytes) flush();
    q.push(e);
    size += len;
  }
  if (g.length + q.length > 0) flush();
  return out;
}
