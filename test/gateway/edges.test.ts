import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayHarness } from '../support/gateway-harness.js';
import { MockUpstream } from '../support/mock-upstream.js';

/** Request-path edges: fallbacks governed and capped, body depth, bounded labels, models. */
describe('gateway request edges', () => {
  const up = new MockUpstream();
  const h = new GatewayHarness();

  beforeAll(async () => {
    await up.start();
    await h.start({
      providers: {
        openai: {
          keys: [{ value: 'sk-edges', models: ['gpt-4o'] }],
          network_config: { base_url: up.url, max_retries: 0 },
        },
        mock: { type: 'mock' },
      },
    });
  });
  afterAll(async () => {
    await h.stop();
    await up.stop();
  });

  const msg = [{ role: 'user', content: 'hi' }];

  it('every fallback is admitted like the primary, before any upstream call; a forbidden one refuses the request', async () => {
    h.governance.forbidden.add('secret-model');
    const before = up.requests.length;
    const r = await h.post('/v1/chat/completions', {
      model: 'mock/mock-model',
      messages: msg,
      fallbacks: ['openai/secret-model'],
    });
    expect(r.status).toBe(403);
    expect(up.requests.length).toBe(before);
    expect(h.governance.admitted.at(-1)).toMatchObject({
      fallbacks: [{ provider: 'openai', model: 'secret-model' }],
      estimatedTokens: expect.any(Number),
    });
    h.governance.forbidden.clear();
  });

  it('at most 5 fallbacks (400 naming the field), and a 20,000-deep body is a 400, never a 502', async () => {
    const six = Array.from({ length: 6 }, () => 'mock/mock-model');
    const r = await h.post('/v1/chat/completions', {
      model: 'mock/mock-model',
      messages: msg,
      fallbacks: six,
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { param: string } }).error.param).toBe('fallbacks');
    const deep = `{"model":"mock/m","messages":${'['.repeat(20000)}${']'.repeat(20000)}}`;
    const d = await fetch(`${h.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deep,
    });
    expect(d.status).toBe(400);
  });

  it('metric labels come only from configuration: unknown providers and models are "other"', async () => {
    await h.post('/v1/chat/completions', { model: `mock/${'x'.repeat(100_000)}`, messages: msg });
    await h.post('/v1/chat/completions', { model: `nope${'y'.repeat(1000)}/m`, messages: msg });
    await h.post('/v1/chat/completions', { model: 'openai/gpt-4o', messages: msg });
    const text = await h.registry.metrics();
    expect(text).not.toContain('xxxxxxxxxx');
    expect(text).not.toContain('yyyyyyyyyy');
    expect(text).toMatch(
      /deepintshield_gateway_requests_total\{provider="openai",model="gpt-4o",status="200"\}/,
    );
    expect(text.length).toBeLessThan(200_000);
  });

  it('/v1/models lists keys and mock models; one model by id; response headers say who answered', async () => {
    const list = (await (await fetch(`${h.base}/v1/models`)).json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['openai/gpt-4o', 'mock/mock-model']));
    expect((await fetch(`${h.base}/v1/models/openai/gpt-4o`)).status).toBe(200);
    expect((await fetch(`${h.base}/v1/models/openai/nothing`)).status).toBe(404);
    const r = await h.post('/v1/chat/completions', { model: 'openai/gpt-4o', messages: msg });
    expect(r.headers.get('x-deepintshield-provider')).toBe('openai');
    expect(r.headers.get('x-deepintshield-model')).toBe('gpt-4o');
    const a = (await (await fetch(`${h.base}/anthropic/v1/models`)).json()) as { data: unknown[] };
    expect(a.data.length).toBeGreaterThan(0);
  });

  it('previous_response_id is a clear 400', async () => {
    const r = await h.post('/v1/responses', {
      model: 'mock/mock-model',
      input: 'x',
      previous_response_id: 'resp_1',
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { param: string } }).error.param).toBe('previous_response_id');
  });
});
