import { MinHeap } from './heap.js';
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
  /** False once sent often enough, invalidated or pruned; such items leave the heap lazily. */
  live: boolean;
}

/** Fewer transmissions first; newest first among equals (memberlist's order, less its size tiebreak). */
const before = (a: Item, b: Item) =>
  a.transmits < b.transmits || (a.transmits === b.transmits && a.id > b.id);

/** Items examined per packet; bounds the work when many queued items do not fit or are restricted. */
const MAX_EXAMINED = 512;

/**
 * Bounded queue of broadcasts, each retransmitted up to RetransmitMult × ceil(log10(n + 1)) times.
 * A binary heap ordered by transmissions keeps picking O(k log n) per packet and a map by key makes
 * invalidation O(1), so a join storm of thousands of alive messages stays cheap. When over capacity,
 * the most-transmitted, oldest items are dropped (with some slack so pruning is amortized).
 */
export class BroadcastQueue {
  private readonly heap = new MinHeap<Item>(before);
  private readonly byKey = new Map<string, Item>();
  private live = 0;
  private nextId = 0;
  dropped = 0;

  constructor(
    private readonly retransmitMult: () => number,
    private readonly numNodes: () => number,
    private readonly maxItems = 4096,
    private readonly onDrop?: (count: number) => void,
    private readonly onQueued?: () => void,
  ) {}

  get length(): number {
    return this.live;
  }

  queue(msg: Buffer, key?: string, onDone?: () => void, restricted = false): void {
    if (key !== undefined) {
      const old = this.byKey.get(key);
      if (old) this.retire(old);
    }
    const item: Item = { key, msg, transmits: 0, id: this.nextId++, onDone, restricted, live: true };
    if (key !== undefined) this.byKey.set(key, item);
    this.heap.push(item);
    this.live++;
    if (this.live > this.maxItems) this.prune();
    else if (this.heap.size > 2 * this.live + 64) this.compact();
    this.onQueued?.();
  }

  /**
   * Picks broadcasts fitting in `limit` bytes, each costing its size plus `overhead`; restricted items
   * only when `includeRestricted`.
   */
  getBroadcasts(overhead: number, limit: number, includeRestricted = true): Buffer[] {
    if (this.live === 0) return [];
    const transmitLimit = retransmitLimit(this.retransmitMult(), this.numNodes());
    const out: Buffer[] = [];
    const putBack: Item[] = [];
    let used = 0;
    let examined = 0;
    while (this.heap.size > 0 && out.length < 255 && limit - used > overhead && examined < MAX_EXAMINED) {
      const it = this.heap.pop()!;
      if (!it.live) continue;
      examined++;
      const cost = it.msg.length + overhead;
      if (used + cost > limit || (!includeRestricted && it.restricted)) {
        putBack.push(it);
        continue;
      }
      used += cost;
      out.push(it.msg);
      it.transmits++;
      if (it.transmits >= transmitLimit) this.retire(it);
      else putBack.push(it);
    }
    for (const it of putBack) this.heap.push(it);
    return out;
  }

  reset(): void {
    for (const it of this.heap.values()) if (it.live) it.onDone?.();
    this.heap.reset([]);
    this.byKey.clear();
    this.live = 0;
  }

  private retire(it: Item): void {
    it.live = false;
    this.live--;
    if (it.key !== undefined && this.byKey.get(it.key) === it) this.byKey.delete(it.key);
    it.onDone?.();
  }

  /** Drops the most-transmitted, oldest items down to capacity less a slack of 1/16. */
  private prune(): void {
    const items = this.heap
      .values()
      .filter((it) => it.live)
      .sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    const keep = Math.max(1, this.maxItems - (this.maxItems >> 4));
    const gone = items.splice(keep);
    for (const it of gone) this.retire(it);
    this.dropped += gone.length;
    this.onDrop?.(gone.length);
    this.heap.reset(items);
  }

  private compact(): void {
    this.heap.reset(this.heap.values().filter((it) => it.live));
  }
}

export { COMPOUND_OVERHEAD };
