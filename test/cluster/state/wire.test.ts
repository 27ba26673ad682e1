import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCounterMessage,
  encodeCounterMessages,
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
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => check(Buffer.from(b))));
    fc.assert(fc.property(fc.jsonValue(), (v) => check(Buffer.from(JSON.stringify(v) ?? 'null'))));
    fc.assert(
      fc.property(
        fc.record({
          n: fc.string(),
          h: fc.anything(),
          w: fc.array(fc.array(fc.anything(), { maxLength: 6 })),
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

  it('splits windows into messages under the size bound that decode back to the same windows, in order; only the last says full', () => {
    const win = fc.tuple(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 1, max: 1e6 }),
      fc.constantFrom(0 as const, 1 as const),
      fc.array(
        fc.tuple(
          fc.string({ minLength: 1, maxLength: 20 }),
          fc.nat(1e6),
          fc.nat(1e6),
          fc.nat(),
          fc.nat(1000),
          fc.nat(1000),
          fc.integer({ min: 1, max: 1000 }),
        ),
        { maxLength: 5 },
      ),
    );
    fc.assert(
      fc.property(fc.array(win, { maxLength: 40 }), fc.boolean(), (raw, full) => {
        const entries: WireWin[] = raw.map(([k, ws, len, ack, slots]) => [k, ws, ws + len, ack, slots]);
        const out = encodeCounterMessages({ n: 'node-a', h: 7 }, entries, full, 900);
        expect(out.length).toBeGreaterThan(0);
        const back: WireWin[] = [];
        out.forEach((buf, i) => {
          const m = decodeCounterMessage(buf)!;
          if (m.w.length > 1) expect(buf.length).toBeLessThanOrEqual(900);
          expect(m.n).toBe('node-a');
          expect(m.h).toBe(7);
          expect(m.f === 1).toBe(full && i === out.length - 1);
          back.push(...m.w);
        });
        expect(back).toEqual(entries);
      }),
    );
  });
});
