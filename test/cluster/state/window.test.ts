import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyClaim,
  createWin,
  fits,
  mayClaim,
  mergeSlot,
  type PeerView,
  planClaim,
  type Slot,
  type Win,
} from '../../../src/cluster/state/window.js';

/**
 * The algorithm alone (no scheduler, no network class): M nodes each with its view of one window,
 * admitting requests and exchanging slot copies in a random order. Claims go to every peer and are
 * echoed back; every admission also sends the node's slot (used/asked) to every peer.
 */
interface Msg {
  to: number;
  from: number;
  node: string;
  slot: Slot;
  ack: boolean;
}

const WS = 1_000_000;
const WE = WS + 10_000;

function harness(m: number, limit: number, aheadOnly: boolean) {
  const names = Array.from({ length: m }, (_, i) => `n${i}`);
  const wins: Win[] = names.map(() => {
    const w = createWin('k', WS, WE, limit);
    w.integer = true;
    return w;
  });
  const own = names.map((n, i) => {
    const s: Slot = { used: 0, cap: 0, ver: (i + 1) * 1_000_000, d: 1, nx: Math.max(1, limit * 0.1), a: 0 };
    wins[i]!.slots.set(n, s);
    return s;
  });
  const peers = names.map((_, i) =>
    names.filter((_, j) => j !== i).map((name): PeerView => ({ name, unreachableSince: 0, synced: true })),
  );
  const pending: Msg[] = [];
  let admitted = 0;
  let now = WS;
  const broadcast = (i: number, ack: boolean) => {
    for (let j = 0; j < m; j++)
      if (j !== i) pending.push({ to: j, from: i, node: names[i]!, slot: { ...own[i]! }, ack });
  };
  return {
    get admitted() {
      return admitted;
    },
    pending,
    claimed: () => own.reduce((a, s) => a + Math.max(s.cap, s.used), 0),
    admit(i: number) {
      now += 1;
      const w = wins[i]!;
      const s = own[i]!;
      s.a++;
      s.ver++;
      if (!fits(w, s, 1) && mayClaim(w, peers[i]!, WS - 1)) {
        const { amount } = planClaim(w, s, {
          self: names[i]!,
          peers: peers[i]!,
          required: peers[i]!,
          want: 1,
          ahead: aheadOnly,
          now,
          avgAmount: 1,
          shareOf: () => 1 / m,
        });
        if (amount > 0) {
          applyClaim(w, s, amount, true);
          w.claimUnsent = false;
          w.sentA = s.a;
          broadcast(i, true);
        }
      }
      if (fits(w, s, 1)) {
        s.used++;
        s.ver++;
        admitted++;
      }
      broadcast(i, false);
    },
    deliver(k: number) {
      const msg = pending.splice(k % pending.length, 1)[0]!;
      const w = wins[msg.to]!;
      mergeSlot(w, names[msg.to]!, names[msg.from]!, msg.node, msg.slot);
      if (msg.ack) {
        const copy = w.slots.get(msg.node)!;
        pending.push({ to: msg.from, from: msg.to, node: msg.node, slot: { ...copy }, ack: false });
      }
    },
  };
}

const ops = fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 1, maxLength: 400 });

describe('window algorithm (pure): Σ admitted ≤ limit', () => {
  it('claims within own entitlement only: Σ max(cap, used) ≤ limit under any interleaving of admissions and deliveries', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 60 }), ops, (m, limit, seq) => {
        const h = harness(m, limit, true);
        for (const [admit, x] of seq) {
          if (admit || h.pending.length === 0) h.admit(x % m);
          else h.deliver(x);
          expect(h.claimed()).toBeLessThanOrEqual(limit);
        }
        expect(h.admitted).toBeLessThanOrEqual(limit);
      }),
    );
  });

  it('requests further apart than the network latency (every message delivered, in any order, before the next): Σ admitted ≤ limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(), { maxLength: 30 })), { minLength: 1, maxLength: 200 }),
        (m, limit, seq) => {
          const h = harness(m, limit, false);
          for (const [node, order] of seq) {
            h.admit(node % m);
            let i = 0;
            while (h.pending.length > 0) h.deliver(order[i++ % Math.max(1, order.length)] ?? 0);
            expect(h.admitted).toBeLessThanOrEqual(limit);
          }
          // Demand above the limit is served up to it (the harness really admits).
          for (let r = 0; r < 3 * limit + 3 * m; r++) {
            h.admit(r % m);
            while (h.pending.length > 0) h.deliver(0);
          }
          expect(h.admitted).toBeLessThanOrEqual(limit);
          expect(h.admitted).toBeGreaterThanOrEqual(limit - m);
        },
      ),
    );
  });

  it('any interleaving (claims racing): over by at most one unit per other node', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 60 }), ops, (m, limit, seq) => {
        const h = harness(m, limit, false);
        for (const [admit, x] of seq) {
          if (admit || h.pending.length === 0) h.admit(x % m);
          else h.deliver(x);
        }
        expect(h.admitted).toBeLessThanOrEqual(limit + m - 1);
      }),
    );
  });
});
