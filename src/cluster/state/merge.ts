import type { DemandView } from './demand-view.js';
import { mergePeerSlot, type Slot, type Win } from './window.js';
import type { WindowTable } from './window-table.js';
import type { WireSlot, WireWin } from './wire.js';

/** A window that ended this long ago is not merged any more (the table has dropped it, or will). */
const MERGE_HORIZON_MS = 10 * 60_000;

/**
 * Merges one window of a peer's message (already validated by wire.ts) into the table and returns it,
 * or undefined when it is too old to matter. Slots of third nodes merge by their rules (window.ts);
 * the sender's copy of OUR slot is an echo: it confirms our claims up to its version, and is the only
 * way we learn what an earlier process with our name admitted.
 */
export function mergeWindow(
  table: WindowTable,
  demand: DemandView,
  self: string,
  from: string,
  entry: WireWin,
  now: number,
): Win | undefined {
  const [key, ws, we, , slots] = entry;
  if (now > we + MERGE_HORIZON_MS) return undefined;
  const w = table.forWire(key, ws, we);
  for (const s of slots) {
    const inc = toSlot(s);
    if (s[0] === self) mergeEcho(table, w, from, inc);
    else if (mergePeerSlot(w, s[0], inc)) demand.notePeer(key, s[0], inc.d);
  }
  return w;
}

function toSlot([, used, cap, ver, d, nx, a]: WireSlot): Slot {
  return { used, cap, ver, d, nx, a: a ?? 0 };
}

function mergeEcho(table: WindowTable, w: Win, from: string, inc: Slot): void {
  const prev = w.echoes.get(from) ?? 0;
  if (inc.ver > prev) {
    w.echoes.set(from, inc.ver);
    w.echoNx.set(from, inc.nx);
  }
  // Only `used` is adopted (grow-only); a cap is never taken back from an old copy, since a
  // released cap may already have been claimed by others.
  const own = table.own(w);
  if (inc.a > own.a) own.a = inc.a;
  if (inc.used > own.used + 1e-9) {
    own.used = inc.used;
    own.cap = Math.max(own.cap, own.used);
    own.ver = Math.max(own.ver, inc.ver) + 1;
    table.mark(w);
  }
}
