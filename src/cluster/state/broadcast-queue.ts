/**
 * The counters' gossip queue, as memberlist's broadcast queue: one item per
 * (window, node) slot, replaced by a newer change of the same slot, sent to
 * each gossip target of a tick and dropped after `limit` transmissions (or
 * `maxTicks` ticks). Items are references: the slot is read when sent, so
 * what goes out is always the latest version.
 */

export interface QueueItem {
  winId: string;
  node: string;
  /** Who told us (never sent back to it). */
  from: string | undefined;
  transmits: number;
  limit: number;
  ticks: number;
}

export class BroadcastQueue {
  private readonly items = new Map<string, QueueItem>();

  constructor(private readonly maxTicks = 3) {}

  get size(): number {
    return this.items.size;
  }

  enqueue(winId: string, node: string, from: string | undefined, limit: number): void {
    const id = `${winId}\u0000${node}`;
    const cur = this.items.get(id);
    if (cur) {
      cur.transmits = 0;
      cur.ticks = 0;
      cur.limit = limit;
      cur.from = from;
      return;
    }
    this.items.set(id, { winId, node, from, transmits: 0, limit, ticks: 0 });
  }

  remove(winId: string, node: string): void {
    this.items.delete(`${winId}\u0000${node}`);
  }

  /** Items for one target (not its own slots, not what it told us); counts a transmission of each. */
  forTarget(target: string): QueueItem[] {
    const out: QueueItem[] = [];
    for (const it of this.items.values()) {
      if (it.node === target || it.from === target) continue;
      it.transmits++;
      out.push(it);
    }
    return out;
  }

  /** Ends a tick: drops what was sent often enough or queued too long. */
  endTick(): void {
    for (const [id, it] of this.items) {
      it.ticks++;
      if (it.transmits >= it.limit || it.ticks >= this.maxTicks) this.items.delete(id);
    }
  }

  clear(): void {
    this.items.clear();
  }
}
