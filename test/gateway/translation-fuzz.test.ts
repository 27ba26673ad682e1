import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/gateway/canonical.js';
import type { InboundInput } from '../../src/gateway/inbound/types.js';
import { INFERENCE_ROUTES } from '../../src/gateway/routes.js';
import { encodeMessagesRequest } from '../../src/providers/anthropic/request.js';
import { parseMessagesResponse } from '../../src/providers/anthropic/response.js';
import { encodeChatRequest } from '../../src/providers/openai/request.js';
import { parseOpenAIResponse } from '../../src/providers/openai/response.js';
import { UpstreamError } from '../../src/providers/types.js';
import { HttpError } from '../../src/server/errors.js';

const KEYS = [
  'model',
  'messages',
  'role',
  'content',
  'tools',
  'tool_calls',
  'function',
  'name',
  'arguments',
  'type',
  'text',
  'image_url',
  'url',
  'input',
  'prompt',
  'tool_choice',
  'response_format',
  'json_schema',
  'schema',
  'system',
  'max_tokens',
  'stream',
  'fallbacks',
  'source',
  'data',
  'tool_use_id',
  'instructions',
  'call_id',
  'output',
  'stop',
  'n',
  'temperature',
  'parameters',
  'choices',
  'delta',
  'usage',
  'index',
  'id',
  'input_schema',
  'text',
  'format',
  'encoding_format',
  'dimensions',
  'stream_options',
  'previous_response_id',
  'file',
  'detail',
  'tool_call_id',
];
const ROLES = ['user', 'assistant', 'system', 'tool', 'developer'];
const TYPES = [
  'text',
  'image_url',
  'image',
  'tool_use',
  'tool_result',
  'function',
  'input_text',
  'input_image',
  'function_call',
  'function_call_output',
  'message',
  'json_schema',
  'base64',
  'url',
];

/** Arbitrary JSON biased towards the shapes the adapters read, so the fuzz reaches deep branches. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 5, 1.5, '', 'x', 'mock/m', ...ROLES, ...TYPES),
    fc.string({ maxLength: 8 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 6 }),
  ),
})).v;

const body = fc
  .dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 10 })
  .map((b) => ({ model: 'mock/m', ...b }));

const input = (b: Record<string, unknown>): InboundInput => ({
  body: b,
  // What the router gives path-parameterised routes (the Gemini family names the model in the path).
  params: { version: 'v1beta', provider: 'mock', model: 'm' },
  query: new URLSearchParams(),
  req: { headers: {} } as IncomingMessage,
});

function onlyBadRequest(err: unknown): void {
  if (err instanceof HttpError && err.status === 400) return;
  throw err;
}

describe('every translation function on arbitrary JSON', () => {
  for (const route of INFERENCE_ROUTES) {
    it(`${route.path}: target/decode/passThroughBody throw nothing but a 400, and what decodes encodes upstream`, () => {
      fc.assert(
        fc.property(body, (b) => {
          const i = input(structuredClone(b));
          try {
            route.inbound.target(i);
          } catch (e) {
            return onlyBadRequest(e);
          }
          try {
            route.inbound.passThroughBody(i, 'm');
          } catch (e) {
            onlyBadRequest(e);
          }
          let req: ReturnType<typeof route.inbound.decode>;
          try {
            req = route.inbound.decode(i, 'm');
          } catch (e) {
            return onlyBadRequest(e);
          }
          if (req.op === 'chat') {
            JSON.stringify(encodeChatRequest(req));
            JSON.stringify(encodeMessagesRequest(req));
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  it('provider response parsers: arbitrary JSON → canonical or UpstreamError, and every inbound encoder accepts the result', () => {
    fc.assert(
      fc.property(
        value,
        fc.constantFrom('chat', 'completions', 'embeddings') as fc.Arbitrary<'chat'>,
        (v, op) => {
          for (const parse of [parseOpenAIResponse, parseMessagesResponse]) {
            let res: ReturnType<typeof parse>;
            try {
              res = parse(op, Buffer.from(JSON.stringify(v) ?? 'null'));
            } catch (e) {
              if (e instanceof UpstreamError && e.kind === 'bad_response') continue;
              throw e;
            }
            for (const r of INFERENCE_ROUTES)
              JSON.stringify(r.inbound.encodeResponse(res, 'p/m', input({ model: 'p/m' })));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  const event: fc.Arbitrary<StreamEvent> = fc.oneof(
    fc.record({
      type: fc.constant('start' as const),
      id: fc.string(),
      model: fc.string(),
      created: fc.nat(),
    }),
    fc.record({ type: fc.constant('text' as const), choice: fc.nat(2), text: fc.string() }),
    fc.record({ type: fc.constant('reasoning' as const), choice: fc.nat(2), text: fc.string() }),
    fc.record({
      type: fc.constant('tool_call_start' as const),
      choice: fc.nat(1),
      index: fc.nat(2),
      id: fc.string(),
      name: fc.string(),
    }),
    fc.record({
      type: fc.constant('tool_call_delta' as const),
      choice: fc.nat(1),
      index: fc.nat(3),
      arguments: fc.string(),
    }),
    fc.record({
      type: fc.constant('finish' as const),
      choice: fc.nat(1),
      reason: fc.constantFrom(
        'stop',
        'length',
        'tool_calls',
        'content_filter',
        'error',
      ) as fc.Arbitrary<'stop'>,
    }),
    fc.record({
      type: fc.constant('usage' as const),
      usage: fc.record({ inputTokens: fc.nat(), outputTokens: fc.nat() }),
    }),
    fc.record({ type: fc.constant('error' as const), message: fc.string() }),
    fc.constant({ type: 'end' as const }),
  );

  it('stream encoders: any canonical event sequence → text, never a throw; error() after anything', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        for (const r of INFERENCE_ROUTES) {
          const enc = r.inbound.streamEncoder('p/m', input({ model: 'p/m' }));
          expect(typeof enc.events(events)).toBe('string');
          expect(typeof enc.error(new HttpError(502, 'broken'))).toBe('string');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the known crashers answer 400 naming the field', () => {
    const chat = INFERENCE_ROUTES.find((r) => r.path === '/v1/chat/completions')!.inbound;
    const msgs = INFERENCE_ROUTES.find((r) => r.path === '/anthropic/v1/messages')!.inbound;
    const cases: [typeof chat, Record<string, unknown>, string][] = [
      [chat, { tools: [{}] }, 'tools[0].function'],
      [chat, { tools: [null] }, 'tools[0]'],
      [chat, { messages: [{ role: 'assistant', content: 'x', tool_calls: 5 }] }, 'messages[0].tool_calls'],
      [chat, { messages: [{ role: 'user', content: [null] }] }, 'messages[0].content[0]'],
      [msgs, { max_tokens: 5, messages: [{ role: 'user', content: [null] }] }, 'messages[0].content[0]'],
      [msgs, { max_tokens: 5, messages: [{ role: 'user', content: 'x' }], tools: [null] }, 'tools[0]'],
    ];
    for (const [a, b, param] of cases) {
      const i = input({ model: 'mock/m', messages: [{ role: 'user', content: 'hi' }], ...b });
      let err: unknown;
      try {
        a.decode(i, 'm');
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(b)).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(400);
      expect((err as HttpError).param).toBe(param);
    }
  });
});
