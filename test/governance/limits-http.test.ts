import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GovernedNode } from './harness.js';

const VK = {
  limited: 'vk-limited-0123456789',
  tokens: 'vk-tokens-0123456789',
  budget: 'vk-budget-0123456789',
  models: 'vk-models-0123456789',
  off: 'vk-disabled-0123456789',
};

describe('governance through HTTP with the official openai client (single node)', () => {
  let node: GovernedNode;
  let dir: string;
  const client = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 5000 });
  const ask = (key: string, model = 'mock/echo') =>
    client(key)
      .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dis-gov-'));
    node = await new GovernedNode({
      providers: {
        mock: { keys: [{ name: 'default', value: 'mock-key' }] },
        openai: { keys: [{ value: 'sk-test' }] },
      },
      governance: {
        enforce_virtual_keys: true,
        virtual_keys: [
          {
            id: 'limited',
            value: VK.limited,
            allowed_models: ['mock/*'],
            rate_limit: { request_max_limit: 5, request_reset_duration: '1w' },
          },
          {
            id: 'tokens',
            value: VK.tokens,
            rate_limit: { token_max_limit: 100, token_reset_duration: '1w' },
          },
          { id: 'budget', value: VK.budget, budget: { max_limit: 0.0001, reset_duration: '1M' } },
          { id: 'models', value: VK.models, allowed_models: ['openai/gpt-4o-mini'] },
          { id: 'off', value: VK.off, disabled: true },
        ],
      },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, 'config.db') } },
    }).start();
  });

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('401 without a virtual key when enforced, for an unknown key and for a disabled key', async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [] }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('virtual_key_required');
    await expect(ask('vk-nobody-knows-this')).rejects.toMatchObject({
      status: 401,
      code: 'invalid_virtual_key',
    });
    await expect(ask(VK.off)).rejects.toMatchObject({ status: 401, code: 'virtual_key_disabled' });
  });

  it('accepts the key in x-deepintshield-vk too', async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-deepintshield-vk': VK.models },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [] }),
    });
    expect(res.status).toBe(200);
  });

  it('403 for a model outside allowed_models', async () => {
    const { data } = await ask(VK.models, 'openai/gpt-4o-mini');
    expect(data.choices[0]?.message.content).toBeTruthy();
    await expect(ask(VK.models, 'openai/gpt-4o')).rejects.toMatchObject({
      status: 403,
      code: 'model_not_allowed',
    });
    await expect(ask(VK.models, 'mock/echo')).rejects.toMatchObject({ status: 403 });
  });

  it('request limit: x-ratelimit headers on success, then 429 with retry-after', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { response } = await ask(VK.limited);
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('5');
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+s$/);
      remaining.push(response.headers.get('x-ratelimit-remaining-requests')!);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    const err = (await ask(VK.limited).catch((e) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(err.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(err.headers?.get('x-ratelimit-limit-requests')).toBe('5');
  });

  it('token limit counts streamed responses: admitted until reached, then 429', async () => {
    const c = client(VK.tokens);
    let streamed = 0;
    // 30 tokens per request: 0, 30, 60, 90 are under 100; after the 4th the limit is reached.
    for (let i = 0; i < 4; i++) {
      const stream = await c.chat.completions.create({
        model: 'mock/echo',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) if (chunk.usage) streamed += chunk.usage.total_tokens;
    }
    expect(streamed).toBe(120);
    const err = (await ask(VK.tokens).catch((e) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.headers?.get('x-ratelimit-limit-tokens')).toBe('100');
    expect(err.headers?.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(err.headers?.get('retry-after')).toBeTruthy();
  });

  it('budget: 402 once the cost of the mock model reaches the budget', async () => {
    // Mock pricing: $1/M in, $2/M out -> 10*1 + 20*2 = $0.00005 per request; budget $0.0001.
    await ask(VK.budget);
    await ask(VK.budget);
    const err = (await ask(VK.budget).catch((e) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(402);
    expect(err.code).toBe('budget_exceeded');
  });

  it('exposes the rejections in /metrics', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    expect(text).toMatch(/deepintshield_governance_rejections_total\{reason="request_limit"\} [1-9]/);
    expect(text).toMatch(/^deepintshield_store_up 1$/m);
  });
});
