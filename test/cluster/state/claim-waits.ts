import { CLAIM_CONFIRM_WAIT_MS, type DistributedCounters } from '../../../src/cluster/state/counters.js';

/**
 * Requests refused while their node confirmed a borrowed claim (`pending`), asked once more when that
 * node has no claim pending or after CLAIM_CONFIRM_WAIT_MS, as the gateway does (virtual time).
 */
export class ClaimWaits<T> {
  private readonly waiting: { item: T; counters: DistributedCounters; since: number }[] = [];

  get size(): number {
    return this.waiting.length;
  }

  add(item: T, counters: DistributedCounters, now: number): void {
    this.waiting.push({ item, counters, since: now });
  }

  /** Hands every request whose wait is over to `again`; drops the ones `dropped` says are gone. */
  due(now: number, again: (item: T) => void, dropped: (item: T) => boolean = () => false): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (dropped(w.item)) this.waiting.splice(i, 1);
      else if (!w.counters.hasPendingClaims() || now - w.since >= CLAIM_CONFIRM_WAIT_MS) {
        this.waiting.splice(i, 1);
        again(w.item);
      } else i++;
    }
  }
}
