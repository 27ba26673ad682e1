import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayHarness } from '../support/gateway-harness.js';
import { HostileUpstream, MULTILINGUAL } from '../support/hostile-upstream.js';

const OPENAI_KEY = 'sk-SECRET-openai-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-SECRET-fedcba9876543210';
const EXTRA = 'extra-header-secret-42x';

/** Every upstream misbehaviour the hostile server offers, through the real HTTP path. */
describe('gateway against a hostile upstream', () => {
  const up = new HostileUpstream();
  const h = new GatewayHarness();
  let oa: OpenAI;

  beforeAll(async () => {
    await up.start();
    const net = {
      base_url: up.url,
      max_retries: 0,
      default_request_timeout_in_seconds: 3,
      max_response_bytes: 1024 * 1024,
      max_event_bytes: 256 * 1024,
      extra_headers: { 'x-extra': EXTRA },
    };
    await h.start({
      providers: {
        hopenai: { type: 'openai', keys: [{ name: 'k', value: OPENAI_KEY }], network_config: net },
        hanth: { type: 'anthropic', keys: [{ name: 'a', value: ANTHROPIC_KEY }], network_config: net },
      },
    });
    oa = new OpenAI({ baseURL: `${h.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await h.stop();
    await up.stop();
  });
  beforeEach(() => {
    h.governance.settled.length = 0;
    h.records.length = 0;
  });

  const chat = (model: string, stream = false, extra: object = {}) =>
    h.post('/v1/chat/completions', { model, stream, messages: [{ role: 'user', content: 'hi' }], ...extra });

  it('never passes a provider secret to the client or the request record, whatever the upstream echoes', async () => {
    for (const model of [
      'hopenai/reflect-400',
      'hopenai/reflect-401',
      'hopenai/reflect-404',
      'hopenai/reflect-429',
      'hopenai/reflect-500',
      'hopenai/reflect-502',
      'hanth/reflect-400',
    ]) {
      const r = await chat(model);
      const text = await r.text();
      expect(r.status, model).toBeGreaterThanOrEqual(400);
      expect(text, model).not.toContain('SECRET');
      expect(text, model).not.toContain(EXTRA);
      expect(JSON.parse(text).error).toHaveProperty('param');
    }
    for (const rec of h.records) expect(JSON.stringify(rec)).not.toContain('SECRET');
  });

  it('an upstream body over max_response_bytes is a 502 with a clear message, success or error', async () => {
    for (const model of ['hopenai/huge-json-3', 'hopenai/huge-error-3']) {
      const r = await chat(model);
      expect(r.status, model).toBe(502);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
        /larger than the limit/,
      );
    }
  });

  it('an SSE event over max_event_bytes on a translated stream ends it with an error event, not a reset', async () => {
    const r = await h.post('/anthropic/v1/messages', {
      model: 'hopenai/huge-event-2',
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toMatch(/event: error\ndata: .*larger than the limit/);
  });

  it('malformed upstream SSE mid-stream ends the client stream with an error event in its format', async () => {
    for (const bad of ['bad-choices', 'bad-json']) {
      const an = await h.post('/anthropic/v1/messages', {
        model: `hopenai/${bad}`,
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      const text = await an.text();
      expect(text, bad).toContain('first ');
      expect(text, bad).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
      const oaStream = await oa.chat.completions.create({
        model: `hanth/${bad}`,
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
      });
      let got = '';
      await expect(
        (async () => {
          for await (const c of oaStream) got += c.choices[0]?.delta?.content ?? '';
        })(),
      ).rejects.toThrow();
      expect(got).toBe('first ');
    }
  });

  it('non-ASCII split at every byte offset of the upstream text comes out whole on every stream path', async () => {
    const bytes = Buffer.byteLength(MULTILINGUAL);
    const paths: [string, string][] = [
      ['/v1/chat/completions', 'hopenai'],
      ['/v1/chat/completions', 'hanth'],
      ['/anthropic/v1/messages', 'hopenai'],
      ['/anthropic/v1/messages', 'hanth'],
      ['/v1/responses', 'hopenai'],
      ['/v1/responses', 'hanth'],
    ];
    for (const [path, provider] of paths)
      for (let i = 0; i < bytes; i += path === '/v1/chat/completions' && provider === 'hopenai' ? 1 : 3) {
        const body =
          path === '/v1/responses'
            ? { model: `${provider}/split-${i}`, stream: true, input: 'hi' }
            : {
                model: `${provider}/split-${i}`,
                stream: true,
                max_tokens: 10,
                messages: [{ role: 'user', content: 'hi' }],
              };
        const text = await (await h.post(path, body)).text();
        let out = '';
        for (const line of text.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          const e = JSON.parse(line.slice(6));
          out +=
            e.choices?.[0]?.delta?.content ??
            e.delta?.text ??
            (e.type === 'response.output_text.delta' ? e.delta : '');
        }
        expect(out, `${path} ${provider} split at ${i}`).toBe(MULTILINGUAL);
        expect(text).not.toContain('\ufffd');
      }
  });

  it('a client that hangs up on a never-ending stream frees the upstream and is charged what was streamed', async () => {
    const ctrl = new AbortController();
    const r = await fetch(`${h.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'hopenai/never-ending',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      signal: ctrl.signal,
    });
    const reader = r.body!.getReader();
    let seen = '';
    while (seen.split('more ').length < 4) seen += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    const deadline = Date.now() + 3000;
    while ((up.open > 0 || h.governance.settled.length === 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(up.open).toBe(0);
    const u = h.governance.settled[0];
    expect(u).toMatchObject({ provider: 'hopenai', model: 'never-ending', partial: true });
    expect(u!.completionTokens).toBeGreaterThan(0);
    expect(h.records[0]).toMatchObject({ status: 499, stream: true });
  });

  it('a model-scoped 404 answers 404 naming the model, and the record carries it', async () => {
    const r = await chat('hopenai/model-refused');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: object }).error).toMatchObject({
      param: 'model',
      code: 'model_not_found',
    });
  });
});
