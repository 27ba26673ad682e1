import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyScrubber } from '../../src/gateway/body-scrub.js';
import type { StreamEvent } from '../../src/gateway/canonical.js';

const KEY = 'sk-SECRET-openai-0123456789abcdef';
const HDR = 'extra-header-secret-42x';

describe('BodyScrubber (success bodies of one provider)', () => {
  const s = new BodyScrubber([KEY, HDR, 'short']);

  it('returns the same buffer when no secret is in it, a scrubbed copy when one is', () => {
    const clean = Buffer.from('{"choices":[{"message":{"content":"hello"}}]}');
    expect(s.scrub(clean)).toBe(clean);
    const dirty = Buffer.from(`{"content":"your key is ${KEY} and ${HDR}, again ${KEY}; short stays"}`);
    const out = s.scrub(dirty).toString();
    expect(out).toBe('{"content":"your key is [redacted] and [redacted], again [redacted]; short stays"}');
    expect(s.scrubText(dirty.toString())).toBe(out);
    expect(new BodyScrubber([]).empty).toBe(true);
  });

  it('property: a secret cut anywhere across stream chunks never comes out, and nothing else changes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(KEY, HDR, KEY.slice(0, 10))), {
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (parts, cuts) => {
          const whole = Buffer.from(parts.join(''));
          const at = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const st = s.stream();
          const out: Buffer[] = [];
          let pos = 0;
          for (const c of [...at, whole.length]) {
            out.push(st.push(whole.subarray(pos, c)));
            pos = c;
          }
          const tail = st.flush();
          if (tail) out.push(tail);
          const got = Buffer.concat(out).toString();
          expect(got).not.toContain(KEY);
          expect(got).not.toContain(HDR);
          // Same as scrubbing the whole, except a secret's start left at the very end is redacted too.
          const ref = s.scrub(whole).toString();
          if (tail?.toString() !== '[redacted]') expect(got).toBe(ref);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: a secret sent over several text/tool-argument events of a decoded stream never comes out', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(KEY, HDR, KEY.slice(0, 10))), {
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (parts, cuts, tool) => {
          const whole = parts.join('');
          const at = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const ev = s.events();
          const decoded: StreamEvent[] = [];
          let pos = 0;
          for (const c of [...at, whole.length]) {
            const piece = whole.slice(pos, c);
            pos = c;
            decoded.push(
              tool
                ? { type: 'tool_call_delta', choice: 0, index: 0, arguments: piece }
                : { type: 'text', choice: 0, text: piece },
            );
          }
          decoded.push({ type: 'finish', choice: 0, reason: 'stop' }, { type: 'end' });
          // Fed one event at a time, as the upstream's chunks arrive.
          const out = decoded.flatMap((e) => ev.events([e]));
          const text = out
            .map((e) => (e.type === 'text' ? e.text : e.type === 'tool_call_delta' ? e.arguments : ''))
            .join('');
          expect(text).not.toContain(KEY);
          expect(text).not.toContain(HDR);
          expect(out.slice(-2).map((e) => e.type)).toEqual(['finish', 'end']);
          if (!text.endsWith('[redacted]')) expect(text).toBe(s.scrubText(whole));
        },
      ),
      { numRuns: 500 },
    );
  });
});
