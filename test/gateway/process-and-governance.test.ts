import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { DeepIntShieldNode } from '../../src/node.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

describe('gateway as a real process', () => {
  const up = new MockUpstream();
  let node: NodeProcess;

  beforeAll(async () => {
    await up.start();
    const port = await freePort();
    node = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port, drain_accept_seconds: 3, drain_timeout_seconds: 20 },
        logging: { level: 'warn' },
        providers: { openai: { keys: [{ value: 'sk-proc' }], network_config: { base_url: up.url } } },
      },
    }).start();
    await node.waitReady();
  });
  afterAll(async () => {
    await node?.destroy();
    await up.stop();
  });

  it('SIGTERM with an open stream: the stream completes, then the process exits 0', async () => {
    up.next({ holdStream: true });
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = Buffer.from((await reader.read()).value!).toString();
    node.signal('SIGTERM');
    // During the accept window: /ready says 503 while the open stream keeps going.
    await waitFor(async () => (await fetch(`${node.url}/ready`).catch(() => undefined))?.status === 503, {
      timeoutMs: 2500,
      intervalMs: 20,
      what: '/ready 503',
    });
    expect(node.running).toBe(true);
    up.release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    expect(text).toMatch(/data: \[DONE\]\n\n$/);
    expect(await node.waitExit(20_000)).toBe(0);
    expect(up.on('/chat/completions')[0]!.aborted).toBe(false);
    // No provider key in any log line.
    expect(node.rawOutput.join('\n')).not.toContain('sk-proc');
  });
});

describe('gateway with virtual keys enforced', () => {
  let node: DeepIntShieldNode;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port, drain_accept_seconds: 0 },
        providers: { mock: { type: 'mock', keys: [] } },
        governance: {
          enforce_virtual_keys: true,
          virtual_keys: [
            {
              id: 'team-a',
              value: 'vk-team-a-secret',
              allowed_models: ['mock/mock-model'],
              rate_limit: { request_max_limit: 3, request_reset_duration: '1M' },
            },
          ],
        },
        config_store: { type: 'sqlite', config: { path: ':memory:' } },
      },
      'test',
    );
    node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
    await node.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await node?.shutdown('test done');
  });

  it('401 without a key, 403 for a model not allowed, 200 then 429 with rate-limit headers', async () => {
    const chat = (model: string, headers: Record<string, string>) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }),
      });
    expect((await chat('mock/mock-model', {})).status).toBe(401);
    expect((await chat('mock/mock-model', { 'x-deepintshield-vk': 'vk-wrong-value' })).status).toBe(401);
    expect((await chat('mock/other', { 'x-deepintshield-vk': 'vk-team-a-secret' })).status).toBe(403);
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'vk-team-a-secret', maxRetries: 0 });
    const ok = await client.chat.completions
      .create({ model: 'mock/mock-model', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    expect(ok.data.choices[0]!.message.content).toMatch(/mock/);
    expect([...ok.response.headers.keys()].some((h) => h.startsWith('x-ratelimit'))).toBe(true);
    const anthropicStyle = await fetch(`${base}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'vk-team-a-secret' },
      body: JSON.stringify({
        model: 'mock/mock-model',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    });
    expect(anthropicStyle.status).toBe(200);
    let limited: Response | undefined;
    for (let i = 0; i < 3 && !limited; i++) {
      const r = await chat('mock/mock-model', { authorization: 'Bearer vk-team-a-secret' });
      if (r.status === 429) limited = r;
      else await r.text();
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers.get('retry-after')).toBeTruthy();
    const body = await limited!.text();
    expect(body).not.toContain('vk-team-a-secret');
  });
});

describe('gateway with virtual keys not enforced (the contract rule for SDK placeholders)', () => {
  let node: DeepIntShieldNode;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port, drain_accept_seconds: 0 },
        providers: { mock: { type: 'mock', keys: [] } },
        governance: {
          enforce_virtual_keys: false,
          virtual_keys: [
            {
              id: 'team-b',
              value: 'vk-team-b-secret',
              allowed_models: ['mock/mock-model'],
              rate_limit: { request_max_limit: 1, request_reset_duration: '1M' },
            },
          ],
        },
        config_store: { type: 'sqlite', config: { path: ':memory:' } },
      },
      'test',
    );
    node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
    await node.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await node?.shutdown('test done');
  });

  const chat = (model: string, headers: Record<string, string>, path = '/v1/chat/completions') =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });

  it('a bearer or x-api-key value that is no virtual key counts as no key; an unknown x-deepintshield-vk is 401', async () => {
    const sdk = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-placeholder', maxRetries: 0 });
    const r = await sdk.chat.completions.create({
      model: 'mock/other',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.choices[0]!.message.content).toBeTruthy();
    expect((await chat('mock/other', { 'x-api-key': 'placeholder' }, '/anthropic/v1/messages')).status).toBe(
      200,
    );
    const unknown = await chat('mock/mock-model', { 'x-deepintshield-vk': 'vk-not-a-key' });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('invalid_virtual_key');
    // Listing models counts nothing against the key's limits; an unknown x-deepintshield-vk is refused there too.
    for (let i = 0; i < 3; i++)
      expect(
        (await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer vk-team-b-secret' } })).status,
      ).toBe(200);
    expect(
      (await fetch(`${base}/v1/models`, { headers: { 'x-deepintshield-vk': 'vk-nope-nope' } })).status,
    ).toBe(401);
    // A real key still governs: its allowed_models apply (before anything is counted), then its limit of 1.
    expect((await chat('mock/other', { authorization: 'Bearer vk-team-b-secret' })).status).toBe(403);
    expect((await chat('mock/mock-model', { authorization: 'Bearer vk-team-b-secret' })).status).toBe(200);
    expect((await chat('mock/mock-model', { authorization: 'Bearer vk-team-b-secret' })).status).toBe(429);
  });
});
