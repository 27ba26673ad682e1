import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { DeepIntShieldNode } from '../../src/node.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/** The inference routes end to end: official SDKs → gateway → a real HTTP mock upstream. */
describe('gateway with the official SDKs against a real upstream', () => {
  const up = new MockUpstream();
  let node: DeepIntShieldNode;
  let base: string;
  let oa: OpenAI;
  let an: Anthropic;
  let originalProviders: ReturnType<typeof validateConfig>['providers'];

  beforeAll(async () => {
    await up.start();
    const port = await freePort();
    const net = (extra: Record<string, unknown> = {}) => ({
      base_url: up.url,
      max_retries: 2,
      retry_backoff_initial_ms: 1,
      retry_backoff_max_ms: 5,
      default_request_timeout_in_seconds: 5,
      ...extra,
    });
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port, max_body_bytes: 32 * 1024, drain_accept_seconds: 0 },
        providers: {
          openai: {
            keys: [
              { name: 'k1', value: 'sk-one' },
              { name: 'k2', value: 'sk-two' },
            ],
            network_config: net(),
          },
          anthropic: { keys: [{ name: 'a1', value: 'ak-one' }], network_config: net() },
          authy: {
            type: 'openai',
            keys: [
              { name: 'bad', value: 'sk-bad' },
              { name: 'good', value: 'sk-good' },
            ],
            network_config: net({ max_retries: 0 }),
          },
          limited: {
            type: 'openai',
            keys: [
              { name: 'l1', value: 'sk-l1' },
              { name: 'l2', value: 'sk-l2' },
            ],
            network_config: net({ max_retries: 1 }),
          },
          flaky: {
            type: 'openai',
            keys: [{ value: 'sk-flaky', models: ['flaky-model'] }],
            network_config: net({ max_retries: 1 }),
          },
          backup: { type: 'openai', keys: [{ value: 'sk-backup' }], network_config: net({ max_retries: 0 }) },
          slow: {
            type: 'openai',
            keys: [{ value: 'sk-slow' }],
            network_config: net({ max_retries: 0, default_request_timeout_in_seconds: 0.3 }),
          },
          dead: {
            type: 'openai',
            keys: [{ value: 'sk-dead' }],
            network_config: net({ base_url: 'http://127.0.0.1:1', max_retries: 1 }),
          },
          mock: { type: 'mock', keys: [{ value: 'mock-key' }], mock_config: { chunks: 4 } },
          mockfail: {
            type: 'mock',
            mock_config: { fail_rate: 1, fail_status: 500 },
            network_config: { max_retries: 1, retry_backoff_initial_ms: 1 },
          },
          mockhang: {
            type: 'mock',
            mock_config: { hang_rate: 1 },
            network_config: { max_retries: 0, default_request_timeout_in_seconds: 0.2 },
          },
        },
        config_store: { type: 'sqlite', config: { path: ':memory:' } },
      },
      'test',
    );
    originalProviders = config.providers;
    node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
    await node.start();
    base = `http://127.0.0.1:${port}`;
    oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    an = new Anthropic({ baseURL: `${base}/anthropic`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await node?.shutdown('test done');
    await up.stop();
  });
  beforeEach(() => up.reset());

  it('chat completions JSON: upstream gets the bare model, a provider key and no gateway fields', async () => {
    const r = await oa.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      fallbacks: ['backup/x'],
    } as never);
    expect(r.choices[0]!.message.content).toBe('Hello from the mock upstream.');
    expect(r.usage?.total_tokens).toBe(15);
    const sent = up.on('/v1/chat/completions')[0]!;
    expect(sent.body!.model).toBe('gpt-4o-mini');
    expect(sent.body!.fallbacks).toBeUndefined();
    expect(['Bearer sk-one', 'Bearer sk-two']).toContain(sent.headers.authorization);
  });

  it('chat completions stream: chunks pass through, usage chunk only when asked for', async () => {
    const s = await oa.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    let usageChunks = 0;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usageChunks++;
    }
    expect(text).toBe('Hello from the mock upstream.');
    expect(usageChunks).toBe(0);
    expect(
      (up.on('/chat/completions')[0]!.body!.stream_options as { include_usage: boolean }).include_usage,
    ).toBe(true);

    const s2 = await oa.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of s2) if (c.usage) usage = c.usage;
    expect(usage?.completion_tokens).toBe(6);
  });

  it('completions, embeddings and models', async () => {
    const c = await oa.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt: 'say hi' });
    expect(c.choices[0]!.text).toBe('Hello from the mock upstream.');
    const e = await oa.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['a', 'b'] });
    expect(e.data).toHaveLength(2);
    expect(up.on('/v1/embeddings')[0]!.body!.model).toBe('text-embedding-3-small');
    const models = [];
    for await (const m of oa.models.list()) models.push(m.id);
    expect(models).toContain('mock/mock-model');
    expect(models).toContain('flaky/flaky-model');
  });

  it('anthropic messages, native, JSON and stream', async () => {
    const m = await an.messages.create({
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m.content[0]).toMatchObject({ type: 'text', text: 'Hello from the mock upstream.' });
    const sent = up.on('/v1/messages')[0]!;
    expect(sent.headers['x-api-key']).toBe('ak-one');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.body!.model).toBe('claude-sonnet-4');
    const s = an.messages.stream({
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    s.on('text', (t) => {
      text += t;
    });
    const final = await s.finalMessage();
    expect(text).toBe('Hello from the mock upstream.');
    expect(final.usage.output_tokens).toBe(6);
  });

  it('translates OpenAI chat to an Anthropic upstream, JSON and stream', async () => {
    const r = await oa.chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 50,
    });
    expect(r.choices[0]!.message.content).toBe('Hello from the mock upstream.');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6 });
    const sent = up.on('/v1/messages')[0]!;
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-4',
      system: 'be brief',
      max_tokens: 50,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });

    const s = await oa.chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('Hello from the mock upstream.');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6 });
  });

  it('translates Anthropic messages to an OpenAI upstream, JSON and stream', async () => {
    const m = await an.messages.create({
      model: 'openai/gpt-4o',
      max_tokens: 64,
      system: 'sys',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m.content[0]).toMatchObject({ type: 'text', text: 'Hello from the mock upstream.' });
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: 9, output_tokens: 6 });
    expect(up.on('/v1/chat/completions')[0]!.body).toMatchObject({
      model: 'gpt-4o',
      max_tokens: 64,
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi' },
      ],
    });
    const s = an.messages.stream({
      model: 'openai/gpt-4o',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    s.on('text', (t) => {
      text += t;
    });
    const final = await s.finalMessage();
    expect(text).toBe('Hello from the mock upstream.');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(6);
  });

  it('the in-process mock provider answers chat, stream and anthropic messages', async () => {
    const r = await oa.chat.completions.create({
      model: 'mock/mock-model',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(r.choices[0]!.message.content).toBe('This is a mock ');
    const s = await oa.chat.completions.create({
      model: 'mock/mock-model',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
    });
    let n = 0;
    for await (const c of s) if (c.choices[0]?.delta?.content) n++;
    expect(n).toBe(4);
    const m = await an.messages.create({
      model: 'mock/mock-model',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m.content[0]).toMatchObject({ type: 'text' });
    expect(up.requests).toHaveLength(0);
  });

  it('retries a 5xx and succeeds', async () => {
    up.next({ status: 500 }, { status: 502 });
    const r = await oa.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]!.message.content).toBe('Hello from the mock upstream.');
    expect(up.on('/chat/completions')).toHaveLength(3);
  });

  it('retries a stream that failed before its first byte', async () => {
    up.next({ status: 503 });
    const s = await oa.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello from the mock upstream.');
    expect(up.on('/chat/completions')).toHaveLength(2);
  });

  it('translates tools both ways in requests', async () => {
    await oa.chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'w',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'auto',
    });
    expect(up.on('/v1/messages')[0]!.body).toMatchObject({
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      tool_choice: { type: 'auto' },
      messages: [
        { role: 'user' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' }] },
      ],
    });
    await an.messages.create({
      model: 'openai/gpt-4o',
      max_tokens: 20,
      tools: [{ name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: {} } }],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Paris' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'sunny' }] },
      ],
    });
    expect(up.on('/v1/chat/completions')[0]!.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'tu_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'tu_1', content: 'sunny' },
      ],
    });
  });

  it('a 429 cools the key down and the retry uses the other key', async () => {
    up.next({ status: 429, retryAfter: 1 });
    await oa.chat.completions.create({ model: 'limited/m', messages: [{ role: 'user', content: 'hi' }] });
    const [a, b] = up.on('/chat/completions');
    expect(a!.headers.authorization).not.toBe(b!.headers.authorization);
  });

  it('a 401 cools the key down and another key answers; the key never leaks', async () => {
    up.next({ key: 'sk-bad', status: 401, message: 'Incorrect API key provided: sk-bad' });
    const usedBad = () =>
      up.on('/chat/completions').filter((r) => r.headers.authorization === 'Bearer sk-bad').length;
    // Keys are picked at random by weight: go on until the bad key was hit once, then some more.
    for (let i = 0; i < 40 && (usedBad() === 0 || i < 5); i++) {
      const r = await oa.chat.completions.create({
        model: 'authy/m',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(r.choices[0]!.message.content).toBe('Hello from the mock upstream.');
      expect(JSON.stringify(r)).not.toContain('sk-bad');
    }
    // After the 401 the bad key is cooling down: it was tried exactly once.
    expect(usedBad()).toBe(1);
  });

  it('falls back to the next provider/model after the retries, and reports a final 5xx as 502', async () => {
    up.next({ key: 'sk-flaky', status: 500 }, { key: 'sk-flaky', status: 503 });
    const r = await oa.chat.completions.create({
      model: 'flaky/flaky-model',
      messages: [{ role: 'user', content: 'hi' }],
      fallbacks: ['backup/backup-model'],
    } as never);
    expect(r.choices[0]!.message.content).toBe('Hello from the mock upstream.');
    const reqs = up.on('/chat/completions');
    expect(reqs.map((q) => q.headers.authorization)).toEqual([
      'Bearer sk-flaky',
      'Bearer sk-flaky',
      'Bearer sk-backup',
    ]);
    expect(reqs[2]!.body!.model).toBe('backup-model');

    up.next(
      { status: 500, message: 'boom' },
      { status: 500, message: 'boom' },
      { status: 500, message: 'boom' },
    );
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'flaky/flaky-model',
        messages: [{ role: 'user', content: 'x' }],
        fallbacks: ['backup/b'],
      }),
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.message).toMatch(/boom/);
  });

  it('a key that does not serve the model gives 503; an upstream 4xx passes through', async () => {
    const res = await post({ model: 'flaky/other-model', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(503);
    up.next({ status: 400, message: 'bad thing in your request' });
    const res2 = await post({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    expect(res2.status).toBe(400);
    expect(((await res2.json()) as { error: { message: string } }).error.message).toBe(
      'bad thing in your request',
    );
    expect(up.requests).toHaveLength(1);
  });

  it('times out with 504 and fails to connect with 502', async () => {
    up.next({ hang: true });
    const res = await post({ model: 'slow/m', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(504);
    const res2 = await post({ model: 'dead/m', messages: [{ role: 'user', content: 'x' }] });
    expect(res2.status).toBe(502);
    expect(((await res2.json()) as { error: { type: string } }).error.type).toBe('upstream_error');
  });

  it('a client abort mid-stream aborts the upstream request', async () => {
    up.next({ holdStream: true });
    const ctrl = new AbortController();
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toMatch(/^data: /);
    ctrl.abort();
    await waitFor(() => up.on('/chat/completions')[0]?.aborted, {
      timeoutMs: 5000,
      what: 'upstream to see the abort',
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    await waitFor(
      async () => /deepintshield_streams_open 0/.test(await (await fetch(`${base}/metrics`)).text()),
      { timeoutMs: 5000, what: 'stream gauge back to 0' },
    );
    expect(metrics).toMatch(/deepintshield_stream_time_to_first_chunk_seconds_count\{provider="openai"\}/);
  });

  it('honours x-request-id, generates one otherwise, and forwards it upstream', async () => {
    const res = await post(
      { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] },
      { 'x-request-id': 'req-abc-123' },
    );
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    expect(up.requests[0]!.headers['x-request-id']).toBe('req-abc-123');
    const res2 = await post({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    expect(res2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers bad requests with 400 naming the problem, and big bodies with 413', async () => {
    const cases: [unknown, RegExp][] = [
      [{ messages: [] }, /model/],
      [{ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, /provider\/model/],
      [{ model: 'nope/gpt-4o', messages: [{ role: 'user', content: 'x' }] }, /unknown provider/],
      [{ model: 'openai/gpt-4o', messages: 'hi' }, /messages/],
      [{ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, /stream/],
      [
        { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' },
        /temperature/,
      ],
      [
        { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], fallbacks: ['nowhere/x'] },
        /fallbacks\[0\]/,
      ],
    ];
    for (const [body, re] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = ((await res.json()) as { error: { message: string; type: string } }).error;
      expect(err.type).toBe('invalid_request_error');
      expect(err.message).toMatch(re);
    }
    const embAnthropic = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'anthropic/claude', input: 'x' }),
    });
    expect(embAnthropic.status).toBe(400);
    const big = await post({
      model: 'openai/gpt-4o',
      messages: [{ role: 'user', content: 'x'.repeat(40 * 1024) }],
    });
    expect(big.status).toBe(413);
    expect(up.requests).toHaveLength(0);
  });

  it('exports gateway metrics with bounded labels', async () => {
    await post({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(
      /deepintshield_gateway_requests_total\{provider="openai",model="gpt-4o",status="200"\}/,
    );
    expect(text).toMatch(/deepintshield_upstream_latency_seconds_bucket/);
    expect(text).toMatch(/deepintshield_tokens_total\{provider="openai",kind="completion"\} [1-9]/);
    expect(text).toMatch(/deepintshield_upstream_retries_total\{provider="openai"\}/);
    expect(text).toMatch(/deepintshield_fallbacks_total\{provider="backup"\}/);
    expect(text).toMatch(/deepintshield_upstream_errors_total\{provider="authy",kind="auth"\}/);
  });

  it('the mock provider fails and hangs on request, as configured', async () => {
    const fail = await post({ model: 'mockfail/m', messages: [{ role: 'user', content: 'x' }] });
    expect(fail.status).toBe(502);
    const hang = await post({ model: 'mockhang/m', messages: [{ role: 'user', content: 'x' }] });
    expect(hang.status).toBe(504);
  });

  it('an update that leaves a provider unchanged keeps its warm connections', async () => {
    await post({ model: 'backup/m', messages: [{ role: 'user', content: 'x' }] });
    node.gateway.updateProviders(originalProviders);
    await post({ model: 'backup/m', messages: [{ role: 'user', content: 'x' }] });
    const [a, b] = up.on('/chat/completions');
    expect(a!.remotePort).toBeDefined();
    expect(b!.remotePort).toBe(a!.remotePort);
  });

  it('updateProviders swaps the provider table at once', async () => {
    const before = node.gateway;
    const next = validateConfig({ providers: { fresh: { type: 'mock' } } }, 'swap').providers;
    before.updateProviders(next);
    try {
      const ok = await post({ model: 'fresh/mock-model', messages: [{ role: 'user', content: 'x' }] });
      expect(ok.status).toBe(200);
      const gone = await post({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
      expect(gone.status).toBe(400);
      const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toContain('fresh/mock-model');
    } finally {
      before.updateProviders(originalProviders);
    }
  });

  function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }
});
