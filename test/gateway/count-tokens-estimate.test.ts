import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gateway/canonical.js';
import { estimateChatTokens, estimateTextTokens, IMAGE_TOKENS } from '../../src/gateway/token-estimate.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { MockUpstream } from '../support/mock-upstream.js';

const PIXEL =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('count_tokens estimator', () => {
  it('counts ~4 ASCII characters per token and one per non-ASCII code point', () => {
    expect(estimateTextTokens('abcdefgh')).toBe(2);
    expect(estimateTextTokens('日本語😀')).toBe(4);
  });

  it('is deterministic and grows with text, tool schemas and images', () => {
    const base: ChatRequest = {
      op: 'chat',
      model: 'm',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }],
    };
    const n = estimateChatTokens(base);
    expect(estimateChatTokens(base)).toBe(n);
    const withTool = estimateChatTokens({
      ...base,
      tools: [
        { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
    });
    expect(withTool).toBeGreaterThan(n);
    const withImage = estimateChatTokens({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'image', data: PIXEL, mediaType: 'image/png' }] }],
    });
    expect(withImage).toBeGreaterThanOrEqual(IMAGE_TOKENS);
  });
});

describe('POST /anthropic/v1/messages/count_tokens on providers without a native count', () => {
  const up = new MockUpstream();
  const h = new GatewayHarness();
  let an: Anthropic;

  beforeAll(async () => {
    await up.start();
    await h.start({
      providers: {
        openai: { keys: [{ value: 'sk-count' }], network_config: { base_url: up.url, max_retries: 0 } },
        mock: { type: 'mock' },
      },
    });
    an = new Anthropic({ baseURL: `${h.base}/anthropic`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await h.stop();
    await up.stop();
  });

  for (const model of ['mock/mock-model', 'openai/gpt-4o'])
    it(`${model}: the SDK's messages.countTokens gets an estimate, no upstream call`, async () => {
      const before = up.requests.length;
      const short = await an.messages.countTokens({ model, messages: [{ role: 'user', content: 'Hi' }] });
      const long = await an.messages.countTokens({
        model,
        system: 'You are terse.',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this image? '.repeat(20) },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PIXEL } },
            ],
          },
        ],
        tools: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        ],
      });
      expect(short.input_tokens).toBeGreaterThan(0);
      expect(long.input_tokens).toBeGreaterThan(short.input_tokens + IMAGE_TOKENS);
      const raw = await an.messages
        .countTokens({ model, messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(raw.response.headers.get('x-deepintshield-token-count')).toBe('estimate');
      expect(raw.data.input_tokens).toBe(short.input_tokens);
      expect(up.requests.length).toBe(before);
    });

  it('an invalid body is still a 400', async () => {
    await expect(
      an.messages.countTokens({ model: 'mock/mock-model', messages: [] as never }),
    ).rejects.toThrow();
  });
});
