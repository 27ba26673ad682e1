import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake } from '../fakes/anthropic.js';
import type { FakeServer } from '../fakes/llm-brain.js';

// The contract fake checked by the official SDK, so that it cannot drift from the real API.
let fake: FakeServer;
let an: Anthropic;

beforeAll(async () => {
  fake = await startAnthropicFake();
  an = new Anthropic({ baseURL: fake.url, apiKey: 'anthropic-key-1', maxRetries: 0 });
});
afterAll(async () => {
  await fake?.close();
});

const tool = {
  name: 'lookup',
  input_schema: { type: 'object' as const, properties: { q: { type: 'string' } }, required: ['q'] },
};

describe('Anthropic contract fake, through @anthropic-ai/sdk', () => {
  it('messages JSON, stream, tool use, image, count_tokens, models', async () => {
    const r = await an.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'hallo 👋' }],
    });
    expect(r.content[0]).toEqual({ type: 'text', text: 'echo: hallo 👋' });
    expect(fake.requests.at(-1)!.headers['anthropic-version']).toBeDefined();
    const s = an.messages.stream({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'stream' }],
    });
    expect((await s.finalMessage()).content[0]).toMatchObject({ text: 'echo: stream' });
    const t = await an.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'find' }],
      tools: [tool],
      tool_choice: { type: 'any' },
    });
    expect(t.stop_reason).toBe('tool_use');
    expect(t.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { q: 'Paris' } });
    const img = await an.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 32,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'see' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
          ],
        },
      ],
    });
    expect(img.content[0]).toMatchObject({ text: 'echo: see [images: image/png 3 bytes]' });
    const c = await an.messages.countTokens({
      model: 'claude-sonnet-4-20250514',
      messages: [{ role: 'user', content: 'count me' }],
    });
    expect(c.input_tokens).toBeGreaterThan(0);
    const ids: string[] = [];
    for await (const m of an.models.list()) ids.push(m.id);
    expect(ids).toContain('claude-sonnet-4-20250514');
  });

  it('a wrong key is the SDK’s AuthenticationError; a missing model its BadRequestError', async () => {
    const bad = new Anthropic({ baseURL: fake.url, apiKey: 'nope', maxRetries: 0 });
    const e = await bad.messages
      .create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.AuthenticationError);
    const e2 = await an.messages
      .create({ max_tokens: 1, messages: [{ role: 'user', content: 'x' }] } as never)
      .catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(Anthropic.BadRequestError);
  });
});
