import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCounterMessage,
  encodeDigest,
  encodeMessages,
  type WireMsg,
  type WireWin,
} from '../../../src/cluster/state/wire.js';

describe('counter wire codec (the network edge)', () => {
  it('never throws on arbitrary bytes or arbitrary JSON; what it returns is well-formed', () => {
    const check = (buf: Buffer) => {
      const m = decodeCounterMessage(buf);
      if (!m) return;
      expect(typeof m.n).toBe('string');
      for (const [key, ws, we, , slots] of m.w) {
        expect(typeof key).toBe('string');
        expect(we).toBeGreaterThan(ws);
        for (const s of slots) for (const v of s.slice(1)) expect(Number.isFinite(v)).toBe(true);
      }
      for (const [key, ws, we, hash] of m.g ?? []) {
        expect(typeof key).toBe('string');
        expect(we).toBeGreaterThan(ws);
        expect(Number.isFinite(hash)).toBe(true);
      }
      for (const [key, ws] of m.q ?? []) {
        expect(typeof key).toBe('string');
        expect(Number.isFinite(ws)).toBe(true);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => check(Buffer.from(b))));
    fc.assert(fc.property(fc.jsonValue(), (v) => check(Buffer.from(JSON.stringify(v) ?? 'null'))));
    fc.assert(
      fc.property(
        fc.record({
          n: fc.string(),
          h: fc.anything(),
          w: fc.array(fc.array(fc.anything(), { maxLength: 6 })),
          g: fc.array(fc.array(fc.anything(), { maxLength: 5 })),
          q: fc.array(fc.array(fc.anything(), { maxLength: 3 })),
        }),
        (v) => check(Buffer.from(JSON.stringify(v) ?? 'null')),
      ),
    );
  });

  it('a valid message survives; invalid slots and windows are dropped, not the message', () => {
    const msg: WireMsg = {
      n: 'node-a',
      h: 123,
      f: 1,
      w: [
        ['vk:a:req', 0, 60_000, 1, [['node-a', 3, 5, 7, 0.5, 2, 4]]],
        ['bad', 10, 5, 0, []],
      ],
    };
    const raw = JSON.parse(JSON.stringify(msg));
    raw.w[0][4].push(['node-b', -1, 1, 1, 0, 0], ['node-c', 'x', 1, 1, 0, 0]);
    const out = decodeCounterMessage(Buffer.from(JSON.stringify(raw)));
    expect(out).toEqual({ n: 'node-a', h: 123, f: 1, w: [msg.w[0]] });
  });

  it('encoding splits into messages of bounded size that decode back to every slot and digest entry', () => {
    const slot = fc.tuple(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.nat(1e6),
      fc.nat(1e6),
      fc.nat(),
      fc.double({ min: 0, max: 1e3, noNaN: true }),
      fc.nat(1e4),
      fc.integer({ min: 1, max: 1e6 }),
    );
    const win = fc.tuple(
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.nat(1e9),
      fc.integer({ min: 1, max: 1e6 }),
      fc.constantFrom(0 as const, 1 as const),
      fc.array(slot, { maxLength: 60 }),
    );
    fc.assert(
      fc.property(fc.array(win, { maxLength: 8 }), fc.boolean(), (raw, full) => {
        const entries: WireWin[] = raw.map(([k, ws, len, ack, slots]) => [k, ws, ws + len, ack, slots]);
        const bufs = encodeMessages({ n: 'me', h: 1 }, entries, full);
        const got = new Map<string, unknown[]>();
        bufs.forEach((b, i) => {
          expect(b.length).toBeLessThanOrEqual(900);
          const m = decodeCounterMessage(b)!;
          expect(m.f === 1).toBe(full && i === bufs.length - 1);
          for (const [k, ws, , ack, slots] of m.w) {
            const id = `${k}|${ws}|${ack}`;
            got.set(id, [...(got.get(id) ?? []), ...slots]);
          }
        });
        const want = new Map<string, unknown[]>();
        for (const [k, ws, , ack, slots] of entries) {
          const id = `${k}|${ws}|${ack}`;
          want.set(id, [...(want.get(id) ?? []), ...slots]);
        }
        for (const [id, slots] of want) expect(got.get(id) ?? []).toEqual(slots);
      }),
    );
    const digest = fc.array(
      fc.tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.nat(1e9), fc.nat(2 ** 32 - 1)),
    );
    fc.assert(
      fc.property(digest, digest, (g, q) => {
        const entries = g.map(([k, ws, h]) => [k, ws, ws + 1, h] as [string, number, number, number]);
        const bufs = encodeDigest(
          { n: 'me', h: 1 },
          entries,
          q.map(([k, ws]) => [k, ws]),
        );
        const gs = [];
        const qs = [];
        for (const b of bufs) {
          expect(b.length).toBeLessThanOrEqual(900);
          const m = decodeCounterMessage(b)!;
          gs.push(...(m.g ?? []));
          qs.push(...(m.q ?? []));
        }
        expect(gs).toEqual(entries);
        expect(qs).toEqual(q.map(([k, ws]) => [k, ws]));
      }),
    );
  });
});
