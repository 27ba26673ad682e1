/**
 * Shared copies of values every member table repeats: protocol versions (the same 6 bytes for almost
 * every node), addresses, meta and names. A table of N members then holds one buffer per distinct value
 * instead of three fresh buffers per alive message, which is what lets thousands of members (or a
 * thousand-node simulation in one process) fit in memory. Interned buffers are never written to.
 * Bounded: when full, the cache starts over (values already handed out stay valid).
 */
const MAX_ENTRIES = 200_000;
const buffers = new Map<string, Buffer>();
const strings = new Map<string, string>();

/** A shared buffer with the same bytes as `b` (a view into a received packet is copied once). */
export function internBytes(b: Buffer): Buffer {
  const key = b.toString('latin1');
  let v = buffers.get(key);
  if (v === undefined) {
    if (buffers.size >= MAX_ENTRIES) buffers.clear();
    v = Buffer.from(b);
    buffers.set(key, v);
  }
  return v;
}

/** A shared copy of `s` (decoded names are distinct strings with equal contents). */
export function internString(s: string): string {
  let v = strings.get(s);
  if (v === undefined) {
    if (strings.size >= MAX_ENTRIES) strings.clear();
    strings.set(s, s);
    v = s;
  }
  return v;
}
