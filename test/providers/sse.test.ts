import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnthropicStreamDecoder } from '../../src/providers/anthropic/stream.js';
import { SseDecoder } from '../../src/providers/http/sse.js';
import { OpenAIStreamDecoder } from '../../src/providers/openai/stream.js';
import { UpstreamError } from '../../src/providers/types.js';

/** Splits `buf` at the given cut points (sorted, deduplicated, within range). */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const ps = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of ps) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const MULTILINGUAL = '日本語のテキスト 👩‍💻🎉 é (e\u0301) 한국어 — Ωμέγα';

describe('SSE decoder', () => {
  const eventArb = fc.record({
    event: fc.option(fc.stringMatching(/^[a-z_.]{1,20}$/), { nil: undefined }),
    data: fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ' ')),
  });

  it('yields the same events whatever the chunking (output equals input)', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom('\n', '\r\n'),
        (events, points, nl) => {
          const text = events
            .map((e) => `${e.event !== undefined ? `event: ${e.event}${nl}` : ''}data: ${e.data}${nl}${nl}`)
            .join('');
          const d = new SseDecoder(1 << 20);
          const got = [];
          for (const c of cut(Buffer.from(text), points)) got.push(...d.push(c));
          got.push(...d.end());
          expect(got).toEqual(
            events.map((e) => (e.event !== undefined ? { event: e.event, data: e.data } : { data: e.data })),
          );
        },
      ),
    );
  });

  it('keeps multi-byte characters whole when split at every byte offset', () => {
    const payload = `data: ${MULTILINGUAL}\n\n`;
    const buf = Buffer.from(payload);
    for (let i = 0; i <= buf.length; i++) {
      const d = new SseDecoder(1 << 20);
      const got = [...d.push(buf.subarray(0, i)), ...d.push(buf.subarray(i)), ...d.end()];
      expect(got, `split at byte ${i}`).toEqual([{ data: MULTILINGUAL }]);
    }
  });

  it('bounds one event: larger than the limit is an UpstreamError, memory stays bounded', () => {
    const d = new SseDecoder(1024);
    expect(() => {
      for (let i = 0; i < 100; i++) d.push(Buffer.from(`data: ${'x'.repeat(100)}`));
    }).toThrow(UpstreamError);
  });
});

const openaiChunks = (text: string): string => {
  const parts = [...text];
  const chunks = parts.map(
    (p) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })}\n\n`,
  );
  chunks.push(
    `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
  );
  chunks.push(
    `data: ${JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 3, completion_tokens: parts.length } })}\n\n`,
  );
  return `${chunks.join('')}data: [DONE]\n\n`;
};

const anthropicEvents = (text: string): string => {
  const ev = (name: string, d: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...d })}\n\n`;
  return [
    ev('message_start', {
      message: { id: 'msg_1', model: 'm', usage: { input_tokens: 3, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ...[...text].map((c) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: c } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } }),
    ev('message_stop', {}),
  ].join('');
};

describe('provider stream decoders', () => {
  const decoders = {
    openai: { make: () => new OpenAIStreamDecoder('chat', 'm', 1 << 20), wire: openaiChunks },
    anthropic: { make: () => new AnthropicStreamDecoder('m', 1 << 20), wire: anthropicEvents },
  };
  for (const [name, d] of Object.entries(decoders)) {
    it(`${name}: non-ASCII text split at every byte offset comes out whole, usage and end once`, () => {
      const buf = Buffer.from(d.wire(MULTILINGUAL));
      for (let i = 0; i <= buf.length; i += 1) {
        const dec = d.make();
        const events = [...dec.push(buf.subarray(0, i)), ...dec.push(buf.subarray(i)), ...dec.end()];
        const text = events.map((e) => (e.type === 'text' ? e.text : '')).join('');
        expect(text, `split at ${i}`).toBe(MULTILINGUAL);
        expect(events.filter((e) => e.type === 'end')).toHaveLength(1);
        expect(events.some((e) => e.type === 'usage')).toBe(true);
      }
    });

    it(`${name}: any bytes at all → events, never a throw other than a bounded-size UpstreamError`, () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 64 }),
              fc.string().map((s) => Buffer.from(`data: ${s}\n\n`)),
              fc.json().map((s) => Buffer.from(`data: ${s}\n\n`)),
            ),
            { maxLength: 10 },
          ),
          (chunks) => {
            const dec = d.make();
            const events = [];
            for (const c of chunks) events.push(...dec.push(Buffer.from(c)));
            events.push(...dec.end());
            const last = events[events.length - 1];
            expect(last && (last.type === 'end' || last.type === 'error')).toBe(true);
          },
        ),
      );
    });
  }

  it('openai: {"choices":5} or non-JSON data mid-stream ends with an error event', () => {
    for (const bad of ['{"choices":5}', 'not json']) {
      const dec = new OpenAIStreamDecoder('chat', 'm', 1 << 20);
      const events = [
        ...dec.push(
          Buffer.from(`data: {"id":"x","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: ${bad}\n\n`),
        ),
        ...dec.end(),
      ];
      expect(events.map((e) => e.type)).toEqual(['start', 'text', 'error']);
    }
  });
});
