import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamCheck } from '../../src/gateway/stream-check.js';

const openai = StreamCheck.for('openai.chat')!;
const anthropic = StreamCheck.for('anthropic.messages')!;
const b = (s: string) => Buffer.from(s);

const chunk = (text: string) =>
  JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });

describe('StreamCheck (pass-through SSE events)', () => {
  it('accepts the events of each format, comments, event/id fields, [DONE] for OpenAI only', () => {
    const good = `: keep-alive\n\ndata: ${chunk('hi')}\n\nid: 3\ndata: {"choices":[],"usage":{"prompt_tokens":1}}\n\ndata: {"error":{"message":"x"}}\n\ndata: [DONE]\n\n`;
    expect(openai.firstBad(b(good), false)).toBe(-1);
    expect(openai.firstBad(b(good.replaceAll('\n', '\r\n')), false)).toBe(-1);
    expect(
      anthropic.firstBad(
        b('event: ping\ndata: {"type":"ping"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'),
        false,
      ),
    ).toBe(-1);
    expect(anthropic.firstBad(b('data: [DONE]\n\n'), false)).toBe(0);
    expect(StreamCheck.for('openai.embeddings')).toBeUndefined();
  });

  it('points at the first event that is not JSON or not of the shape (its event: line included)', () => {
    const first = `data: ${chunk('first ')}\n\n`;
    for (const bad of [
      'data: {"choices":5}\n\n',
      'data: this is not json\n\n',
      'data: [1,2]\n\n',
      'data: null\n\n',
    ])
      expect(openai.firstBad(b(first + bad + first), false), bad).toBe(Buffer.byteLength(first));
    const ev = 'event: message_start\ndata: {"type":"message_start"}\n\n';
    expect(anthropic.firstBad(b(`${ev}event: content_block_delta\ndata: {"delta":1}\n\n`), false)).toBe(
      ev.length,
    );
    // Multi-line data is joined with \n before parsing, as SSE says.
    expect(openai.firstBad(b('data: {"choices":\ndata: []}\n\n'), false)).toBe(-1);
  });

  it('an event left open is bad mid-stream (it outgrew the buffer) and read as whole at the end', () => {
    const open = `data: ${chunk('x')}`;
    expect(openai.firstBad(b(`data: ${chunk('a')}\n\n${open}`), false)).toBe(
      Buffer.byteLength(`data: ${chunk('a')}\n\n`),
    );
    expect(openai.firstBad(b(open), true)).toBe(-1);
    expect(openai.firstBad(b('data: {"choi'), true)).toBe(0);
    expect(openai.firstBad(b(''), false)).toBe(-1);
  });

  it('property: good events in any framing pass; the first bad one is found at its byte offset', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 });
    const goodEvent = fc.oneof(
      text.map((t) => `data: ${chunk(t)}`),
      text.map((t) => `: ${t.replace(/[\r\n]/g, '')}`),
      fc.constant('data: [DONE]'),
      fc.constant('event: x\ndata: {"choices":[]}'),
    );
    const badEvent = fc.oneof(
      fc.constant('data: {"choices":5}'),
      text.map((t) => `data: not json ${t.replace(/[\r\n]/g, '')}`),
      fc.constant('data: {}'),
    );
    fc.assert(
      fc.property(
        fc.array(goodEvent, { maxLength: 8 }),
        fc.option(badEvent),
        fc.array(goodEvent, { maxLength: 3 }),
        fc.boolean(),
        (before, bad, after, crlf) => {
          const nl = crlf ? '\r\n' : '\n';
          const frame = (e: string) => `${e.replaceAll('\n', nl)}${nl}${nl}`;
          const head = before.map(frame).join('');
          const all = head + (bad === null ? '' : frame(bad)) + after.map(frame).join('');
          const got = openai.firstBad(b(all), false);
          expect(got).toBe(bad === null ? -1 : Buffer.byteLength(head));
        },
      ),
      { numRuns: 300 },
    );
  });
});
