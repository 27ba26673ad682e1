import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../src/gateway/hooks.js';
import { WeightedKeyRouter } from '../../src/gateway/keys.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { HostileUpstream, MULTILINGUAL } from '../support/hostile-upstream.js';

const OPENAI_KEY = 'sk-SECRET-openai-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-SECRET-fedcba9876543210';
const EXTRA = 'extra-header-secret-42x';
const LOG_BYTES = 2048;

/** The key router's view of each request: what routing learns from it. */
class RecordingRouter extends WeightedKeyRouter {
  readonly outcomes: AttemptOutcome[] = [];
  override record(o: AttemptOutcome): void {
    this.outcomes.push(o);
  }
}

/** Every upstream misbehaviour the hostile server offers, through the real HTTP path. */
describe('gateway against a hostile upstream', () => {
  const up = new HostileUpstream();
  const h = new GatewayHarness();
  const router = new RecordingRouter();
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
    await h.start(
      {
        providers: {
          hopenai: { type: 'openai', keys: [{ name: 'k', value: OPENAI_KEY }], network_config: net },
          hanth: { type: 'anthropic', keys: [{ name: 'a', value: ANTHROPIC_KEY }], network_config: net },
        },
        observability: { request_log: { bodies: true, max_body_bytes: LOG_BYTES } },
      },
      { keyRouter: router },
    );
    oa = new OpenAI({ baseURL: `${h.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await h.stop();
    await up.stop();
  });
  beforeEach(() => {
    h.governance.settled.length = 0;
    h.records.length = 0;
    router.outcomes.length = 0;
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

  it('malformed SSE on the pass-through ends the stream with an error event, no [DONE], and counts as bad_response', async () => {
    for (const bad of ['bad-choices', 'bad-json']) {
      router.outcomes.length = 0;
      h.records.length = 0;
      const text = await (await chat(`hopenai/${bad}`, true)).text();
      const events = text.split('\n\n').filter(Boolean);
      // The good event byte for byte, then the error; the bad bytes never reach the client.
      expect(events[0], bad).toMatch(
        /^data: \{"id":"c1","object":"chat.completion.chunk".*"content":"first "/,
      );
      expect(JSON.parse(events[1]!.slice(6)).error, bad).toMatchObject({
        type: 'upstream_error',
        code: 'upstream_bad_response',
      });
      expect(events.length, bad).toBe(2);
      expect(text, bad).not.toContain('[DONE]');
      expect(text, bad).not.toContain('not json');
      expect(text, bad).not.toContain('"choices":5');
      expect(router.outcomes.at(-1), bad).toMatchObject({ provider: 'hopenai', failure: 'bad_response' });
      expect(h.records[0], bad).toMatchObject({ status: 502, stream: true });

      const oaStream = await oa.chat.completions.create({
        model: `hopenai/${bad}`,
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
      });
      let got = '';
      await expect(
        (async () => {
          for await (const c of oaStream) got += c.choices[0]?.delta?.content ?? '';
        })(),
      ).rejects.toThrow(/malformed stream event/);
      expect(got).toBe('first ');
    }
    // An event over the pass-through's 1 MiB buffer is cut off the same way, not forwarded in pieces.
    const huge = await (await chat('hopenai/huge-event-2', true)).text();
    expect(huge).toContain('"content":"ok"');
    expect(huge).toMatch(/data: \{"error":\{"message":"upstream hopenai sent a malformed stream event"/);
    expect(huge.length).toBeLessThan(10_000);
  });

  it('a success answer that reflects the provider key or a secret header reaches the client scrubbed', async () => {
    const j = await chat('hopenai/echo-json');
    expect(j.status).toBe(200);
    const body = (await j.json()) as { choices: { message: { content: string } }[]; usage: object };
    expect(body.choices[0]!.message.content).toBe('you sent Bearer [redacted] and [redacted]');
    expect(body.usage).toMatchObject({ total_tokens: 12 });
    const paths: [string, string, object][] = [
      ['/v1/chat/completions', 'hopenai', {}],
      ['/v1/chat/completions', 'hanth', {}],
      ['/anthropic/v1/messages', 'hanth', { max_tokens: 10 }],
      ['/anthropic/v1/messages', 'hopenai', { max_tokens: 10 }],
    ];
    for (const [path, provider, extra] of paths) {
      const body = {
        model: `${provider}/echo-stream`,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
        ...extra,
      };
      const text = await (await h.post(path, body)).text();
      expect(text, `${path} ${provider}`).toContain('you sent ');
      expect(text, `${path} ${provider}`).toContain('[redacted]');
      expect(text, `${path} ${provider}`).not.toContain('SECRET');
      expect(text, `${path} ${provider}`).not.toContain(EXTRA);
    }
    for (const rec of h.records) expect(JSON.stringify(rec)).not.toContain('SECRET');
  });

  it('request_log.bodies keeps the streamed response too: the upstream events, capped and scrubbed', async () => {
    await (await chat('hopenai/fine', true)).text();
    await (await chat('hopenai/echo-stream', true)).text();
    await (await chat('hanth/split-3', true)).text();
    const [fine, echo, translated] = h.records;
    expect(fine!.responseBody).toMatch(/^data: \{.*"content":"fine".*data: \[DONE\]\n\n$/s);
    expect(fine!.requestBody).toContain('"stream":true');
    expect(echo!.responseBody).toContain('you sent Bearer [redacted]');
    expect(echo!.responseBody).not.toContain('SECRET');
    // A translated stream keeps what the upstream sent (Anthropic events), as the JSON path does.
    expect(translated!.responseBody).toMatch(/^event: message_start\n/);
    const long = await chat('hopenai/never-ending', true);
    const reader = long.body!.getReader();
    let seen = 0;
    while (seen < LOG_BYTES * 2) seen += (await reader.read()).value?.length ?? 0;
    await reader.cancel();
    await expect.poll(() => h.records.length, { timeout: 3000 }).toBe(4);
    expect(Buffer.byteLength(h.records[3]!.responseBody!)).toBeLessThanOrEqual(LOG_BYTES);
    expect(h.records[3]!.responseBody).toContain('"content":"more "');
  });

  it('a translated stream the upstream sends in one piece goes out with its terminator, first byte timed', async () => {
    // The whole Anthropic stream in one chunk: its chat chunks are the stream's tail, sent with res.end.
    const text = await (await chat('hanth/fine', true)).text();
    // The scrubber may hold back the end of a text delta (a secret could start there): join the deltas.
    const content = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
    expect(content).toBe('fine');
    expect(text).toMatch(/data: \[DONE\]\n\n$/);
    await expect.poll(() => h.records.length, { timeout: 3000 }).toBe(1);
    expect(h.records[0]!.status).toBe(200);
    expect(h.records[0]!.ttftMs).toBeGreaterThan(0);
    expect(h.records[0]!.ttftMs).toBeLessThanOrEqual(h.records[0]!.latencyMs);
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
