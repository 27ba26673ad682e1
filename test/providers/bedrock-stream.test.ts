import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/gateway/canonical.js';
import { EventStreamDecoder, encodeEvent } from '../../src/providers/bedrock/eventstream.js';
import { BedrockStreamDecoder } from '../../src/providers/bedrock/stream.js';

const TEXT = '日本語 👍🏽 e\u0301 ∑';

function frames(): Buffer {
  return Buffer.concat([
    encodeEvent('messageStart', { role: 'assistant' }),
    encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: TEXT.slice(0, 5) } }),
    encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: TEXT.slice(5) } }),
    encodeEvent('contentBlockStop', { contentBlockIndex: 0 }),
    encodeEvent('messageStop', { stopReason: 'end_turn' }),
    encodeEvent('metadata', { usage: { inputTokens: 3, outputTokens: 4 } }),
  ]);
}

function run(chunks: Buffer[]): StreamEvent[] {
  const d = new BedrockStreamDecoder('m', 'r');
  const out: StreamEvent[] = [];
  for (const c of chunks) out.push(...d.push(c));
  out.push(...d.end());
  // `created` is the clock's second: not part of what a split may change.
  return out.map((e) => (e.type === 'start' ? { ...e, created: 0 } : e));
}

const textOf = (ev: StreamEvent[]) => ev.map((e) => (e.type === 'text' ? e.text : '')).join('');

describe('Bedrock stream decoding', () => {
  it('gives the same events whatever byte offset splits the stream', () => {
    const all = frames();
    const whole = run([all]);
    expect(textOf(whole)).toBe(TEXT);
    expect(whole.map((e) => e.type)).toEqual(['start', 'text', 'text', 'finish', 'usage', 'end']);
    for (let i = 1; i < all.length; i++) {
      expect(run([all.subarray(0, i), all.subarray(i)]), `split at ${i}`).toEqual(whole);
    }
  });

  it('property: any chunking decodes to the same events (fast-check)', () => {
    const all = frames();
    const whole = run([all]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(all.subarray(prev, p));
          prev = p;
        }
        chunks.push(all.subarray(prev));
        expect(run(chunks)).toEqual(whole);
      }),
      { verbose: true },
    );
  });

  it('hostile input: bad CRC, oversized prelude and a truncated frame end with an error, never a throw', () => {
    const good = Buffer.from(encodeEvent('messageStart', { role: 'assistant' }));
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0xff;
    expect(run([bad]).at(-1)).toMatchObject({ type: 'error', code: 'upstream_bad_response' });
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0x7fffffff, 0);
    expect(run([huge]).at(-1)).toMatchObject({ type: 'error' });
    expect(run([good.subarray(0, 10)]).at(-1)).toMatchObject({ type: 'error' });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const ev = run([Buffer.from(bytes)]);
        expect(['end', 'error']).toContain(ev.at(-1)!.type);
      }),
    );
  });

  it('the frame decoder holds at most one frame', () => {
    const d = new EventStreamDecoder(64);
    const big = Buffer.from(encodeEvent('contentBlockDelta', { delta: { text: 'x'.repeat(100) } }));
    expect(() => d.push(big.subarray(0, 8))).toThrow(/out of bounds/);
  });

  it('tool use and exceptions map to canonical events', () => {
    const ev = run([
      Buffer.concat([
        encodeEvent('messageStart', { role: 'assistant' }),
        encodeEvent('contentBlockStart', {
          contentBlockIndex: 1,
          start: { toolUse: { toolUseId: 't1', name: 'f' } },
        }),
        encodeEvent('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"a":' } } }),
        encodeEvent('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '1}' } } }),
        encodeEvent('messageStop', { stopReason: 'tool_use' }),
        encodeEvent('throttlingException', { message: 'slow down' }, 'exception'),
      ]),
    ]);
    expect(ev.slice(1)).toEqual([
      { type: 'tool_call_start', choice: 0, index: 0, id: 't1', name: 'f' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"a":' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '1}' },
      { type: 'finish', choice: 0, reason: 'tool_calls', nativeReason: 'tool_use' },
      { type: 'error', message: 'slow down', code: 'throttlingException', status: 429 },
    ]);
  });
});
