import { COMPOUND_OVERHEAD } from './messages.js';
import { retransmitLimit } from './timings.js';

interface Item {
  /** Invalidation key: a newer broadcast with the same key replaces an older one (node name for memberlist messages). */
  key: string | undefined;
  msg: Buffer;
  transmits: number;
  id: number;
  onDone: (() => void) | undefined;
  /** Only for nodes that understand our user messages (not sent to foreign serf agents). */
  restricted: boolean;
}

/**
 * Bounded queue of broadcasts, each retransmitted up to RetransmitMult × ceil(log10(n + 1)) times.
 * Items with the fewest transmissions go first (newest first on ties); a newer item with the same key
 * invalidates an older one; when full, the most-transmitted oldest items are dropped.
 */
export class BroadcastQueue {
  private items: Item[] = [];
  private nextId = 0;
  dropped = 0;

  constructor(
    private readonly retransmitMult: () => number,
    private readonly numNodes: () => number,
    private readonly maxItems = 4096,
    private readonly onDrop?: (count: number) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  queue(msg: Buffer, key?: string, onDone?: () => void, restricted = false): void {
    if (key !== undefined) {
      const kept: Item[] = [];
      for (const it of this.items) {
        if (it.key === key) it.onDone?.();
        else kept.push(it);
      }
      this.items = kept;
    }
    this.items.push({ key, msg, transmits: 0, id: this.nextId++, onDone, restricted });
    if (this.items.length > this.maxItems) {
      this.items.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
      const gone = this.items.splice(this.maxItems);
      for (const it of gone) it.onDone?.();
      this.dropped += gone.length;
      this.onDrop?.(gone.length);
    }
  }

  /**
   * Picks broadcasts fitting in `limit` bytes, each costing its size plus `overhead`; restricted items
   * only when `includeRestricted`.
   */
  getBroadcasts(overhead: number, limit: number, includeRestricted = true): Buffer[] {
    if (this.items.length === 0) return [];
    const transmitLimit = retransmitLimit(this.retransmitMult(), this.numNodes());
    this.items.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Buffer[] = [];
    let used = 0;
    const keep: Item[] = [];
    for (const it of this.items) {
      const cost = it.msg.length + overhead;
      if (out.length < 255 && used + cost <= limit && (includeRestricted || !it.restricted)) {
        used += cost;
        out.push(it.msg);
        it.transmits++;
        if (it.transmits >= transmitLimit) {
          it.onDone?.();
          continue;
        }
      }
      keep.push(it);
    }
    this.items = keep;
    return out;
  }

  reset(): void {
    for (const it of this.items) it.onDone?.();
    this.items = [];
  }
}

export { COMPOUND_OVERHEAD };
