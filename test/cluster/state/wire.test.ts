import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCounterMessage, type WireMsg } from '../../../src/cluster/state/wire.js';

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
});
