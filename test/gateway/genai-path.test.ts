import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatchEmbedBody, MAX_BATCH_EMBED } from '../../src/gateway/inbound/gemini-request.js';
import { splitGenaiPath } from '../../src/gateway/routes.js';
import { HttpError } from '../../src/server/errors.js';

const segment = fc.stringMatching(/^[A-Za-z0-9._@-]{1,20}$/);

describe('splitGenaiPath (the `provider/model:method` of /genai/{version}/models/*)', () => {
  it('takes the provider before the first "/", the method after the last ":", the model between', () => {
    fc.assert(
      fc.property(
        segment,
        fc.array(fc.stringMatching(/^[A-Za-z0-9._:@-]{1,20}$/), { minLength: 1, maxLength: 4 }),
        fc.stringMatching(/^[A-Za-z]{1,30}$/),
        (provider, modelParts, method) => {
          const model = modelParts.join('/');
          fc.pre(!model.startsWith(':') && !model.endsWith(':') && !model.startsWith('/'));
          expect(splitGenaiPath(`${provider}/${model}:${method}`)).toEqual({ provider, model, method });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws; whatever it returns has three non-empty parts that rebuild the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const p = splitGenaiPath(s);
        if (!p) return;
        expect(p.provider && p.model && p.method).toBeTruthy();
        expect(`${p.provider}/${p.model}:${p.method}`).toBe(s);
        expect(p.provider).not.toContain('/');
        expect(p.method).not.toContain(':');
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses what names no model or no method', () => {
    for (const s of ['', 'mock', 'mock/m', 'mock/m:', 'mock:gen', '/m:gen', 'mock/:gen'])
      expect(splitGenaiPath(s), s).toBeUndefined();
  });
});

describe('decodeBatchEmbedBody', () => {
  const request = fc.record(
    {
      model: fc.oneof(fc.string(), fc.constant('models/x')),
      content: fc.oneof(
        fc.record({ parts: fc.array(fc.record({ text: fc.string() }), { maxLength: 3 }) }),
        fc.jsonValue(),
      ),
      outputDimensionality: fc.oneof(fc.constant(8), fc.integer(), fc.jsonValue()),
      taskType: fc.oneof(fc.constantFrom('RETRIEVAL_DOCUMENT', 'RETRIEVAL_QUERY'), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );

  it('on arbitrary bodies throws nothing but a 400; what it accepts has one text per request', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ requests: fc.array(request, { maxLength: 5 }) }),
          fc.dictionary(fc.string(), fc.jsonValue()),
        ),
        (body) => {
          let r: ReturnType<typeof decodeBatchEmbedBody>;
          try {
            r = decodeBatchEmbedBody(body as Record<string, unknown>, 'm');
          } catch (e) {
            if (e instanceof HttpError && e.status === 400) return;
            throw e;
          }
          expect(r.input).toHaveLength((body as { requests: unknown[] }).requests.length);
          expect(r.model).toBe('m');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('bounds the batch', () => {
    const one = { content: { parts: [{ text: 'a' }] } };
    expect(decodeBatchEmbedBody({ requests: Array(MAX_BATCH_EMBED).fill(one) }, 'm').input).toHaveLength(
      MAX_BATCH_EMBED,
    );
    expect(() => decodeBatchEmbedBody({ requests: Array(MAX_BATCH_EMBED + 1).fill(one) }, 'm')).toThrow(
      HttpError,
    );
  });
});
