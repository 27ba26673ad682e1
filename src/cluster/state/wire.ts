/**
 * The counters' gossip message (channel 2), JSON: who sent it, its process
 * start, whether it is its full state, and slots per counter window. Decoding
 * is the edge: anything from the network is validated and bounded here, and
 * what does not fit is dropped, never thrown.
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
export type WireWin = [key: string, ws: number, we: number, ackReq: 0 | 1, slots: WireSlot[]];
export interface WireMsg {
  n: string;
  /** Sender's process start time. */
  h?: number;
  /** 1: this is the sender's full state. */
  f?: 1;
  /** 1: the sender asks for our full state (it started, or has not had it yet). */
  q?: 1;
  w: WireWin[];
}

/** Push/pull state can be large (every window of every key in use); single messages stay under 900 bytes. */
export const MAX_MESSAGE_BYTES = 8 << 20;
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
  if (m.q === 1) out.q = 1;
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
  return out;
}

/**
 * Our windows as messages of at most `maxBytes` each (a window larger than that goes alone). With
 * `full`, only the last message is marked as the full state, so a peer that saw the mark saw every
 * message before it (or asks again later).
 */
export function encodeCounterMessages(
  head: Omit<WireMsg, 'w' | 'f'>,
  entries: readonly WireWin[],
  full: boolean,
  maxBytes: number,
): Buffer[] {
  const encode = (w: WireWin[], last: boolean): Buffer =>
    Buffer.from(JSON.stringify(full && last ? { ...head, f: 1, w } : { ...head, w }));
  const groups: WireWin[][] = [];
  let cur: WireWin[] = [];
  const base = encode([], true).length;
  let size = base;
  for (const e of entries) {
    const len = JSON.stringify(e).length + 1;
    if (cur.length > 0 && size + len > maxBytes) {
      groups.push(cur);
      cur = [];
      size = base;
    }
    cur.push(e);
    size += len;
  }
  if (cur.length > 0 || groups.length === 0) groups.push(cur);
  return groups.map((g, i) => encode(g, i === groups.length - 1));
}
