import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admission, AdmissionRequest, GovernanceHook } from '../../src/gateway/hooks.js';
import { HttpError } from '../../src/server/errors.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { HostileUpstream } from '../support/hostile-upstream.js';
import { MockUpstream } from '../support/mock-upstream.js';

/** Governance refusing by model name: mock/deny-401, deny-402, deny-403, deny-429. */
const scripted: GovernanceHook = {
  admit(req: AdmissionRequest): Admission {
    const m = /^deny-(\d+)$/.exec(req.model);
    const status = m ? Number(m[1]) : 0;
    const reject =
      status === 401
        ? new HttpError(401, 'invalid virtual key', 'authentication_error', 'invalid_virtual_key')
        : status === 402
          ? new HttpError(402, 'budget exhausted', 'insufficient_quota', 'budget_exceeded')
          : status === 403
            ? new HttpError(403, 'model not allowed', 'permission_error', 'model_not_allowed')
            : status === 429
              ? new HttpError(429, 'request rate limit reached', 'rate_limit_error', 'rate_limit_exceeded', {
                  'retry-after': '7',
                })
              : undefined;
    return { ...(reject ? { reject } : {}), settle() {} };
  },
  authenticate: (who) =>
    who.virtualKey === 'bad-vk'
      ? new HttpError(401, 'invalid virtual key', 'authentication_error')
      : undefined,
};

const up = new MockUpstream();
const hostile = new HostileUpstream();
const h = new GatewayHarness();
let an: Anthropic;
let ai: GoogleGenAI;

beforeAll(async () => {
  await up.start();
  await hostile.start();
  const net = { base_url: up.url, max_retries: 0 };
  await h.start(
    {
      providers: {
        mock: { type: 'mock' },
        openai: { keys: [{ value: 'sk-1' }], network_config: net },
        nokey: { type: 'openai', keys: [{ value: 'sk-2', models: ['only-this'] }], network_config: net },
        hostile: {
          type: 'openai',
          keys: [{ value: 'sk-3' }],
          network_config: { base_url: hostile.url, max_retries: 0 },
        },
      },
    },
    { governance: scripted },
  );
  an = new Anthropic({ baseURL: `${h.base}/anthropic`, apiKey: 'unused', maxRetries: 0 });
  ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${h.base}/genai` } });
});
afterAll(async () => {
  await h.stop();
  await hostile.stop();
  await up.stop();
});

const ask = (model: string) =>
  an.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).then(
    () => {
      throw new Error('expected an error');
    },
    (e: unknown) => e as InstanceType<typeof Anthropic.APIError>,
  );

const gen = (model: string) =>
  ai.models.generateContent({ model, contents: 'hi' }).then(
    () => {
      throw new Error('expected an error');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(ApiError);
      const err = e as ApiError;
      return { status: err.status, body: JSON.parse(err.message) as { error: Record<string, unknown> } };
    },
  );

describe('Anthropic-family errors through @anthropic-ai/sdk', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's error classes have incompatible constructor types
  const cases: [string, number, new (...a: any[]) => Error, string][] = [
    ['mock/deny-401', 401, Anthropic.AuthenticationError, 'authentication_error'],
    ['mock/deny-402', 402, Anthropic.APIError, 'billing_error'],
    ['mock/deny-403', 403, Anthropic.PermissionDeniedError, 'permission_error'],
    ['mock/deny-429', 429, Anthropic.RateLimitError, 'rate_limit_error'],
    ['nokey/gpt-4o', 503, Anthropic.InternalServerError, 'overloaded_error'],
    ['nobody/x', 400, Anthropic.BadRequestError, 'invalid_request_error'],
  ];
  for (const [model, status, cls, type] of cases)
    it(`${model} → ${status} ${type}`, async () => {
      const e = await ask(model);
      expect(e).toBeInstanceOf(cls);
      expect(e.status).toBe(status);
      expect(e.error).toMatchObject({ type: 'error', error: { type, message: expect.any(String) } });
      if (status === 429) expect(e.headers?.get('retry-after')).toBe('7');
    });

  it('an upstream 5xx → 502 api_error; a validation error → 400 invalid_request_error', async () => {
    up.next({ status: 500, path: '/chat/completions' });
    const e = await ask('openai/gpt-4o');
    expect(e).toBeInstanceOf(Anthropic.InternalServerError);
    expect(e.status).toBe(502);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    const bad = (await an.messages
      .create({ model: 'mock/m', max_tokens: 0, messages: [] } as never)
      .catch((x: unknown) => x)) as InstanceType<typeof Anthropic.APIError>;
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('a body that is no JSON, an unknown path and the model list keep the shape', async () => {
    const raw = await fetch(`${h.base}/anthropic/v1/messages`, { method: 'POST', body: '{' });
    expect(raw.status).toBe(400);
    // Anthropic's shape with the contract's OpenAI fields too ({error:{message,type,param,code}}).
    expect(await raw.json()).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: expect.any(String),
        param: null,
        code: expect.any(String),
      },
    });
    const miss = await fetch(`${h.base}/anthropic/v1/nothing-here`);
    expect(miss.status).toBe(404);
    expect(await miss.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const list = await fetch(`${h.base}/anthropic/v1/models`, { headers: { 'x-api-key': 'bad-vk' } });
    expect(list.status).toBe(401);
    expect(await list.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('a stream that breaks after its first event ends with an error event the SDK throws', async () => {
    const s = an.messages.stream({
      model: 'hostile/bad-json',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const e = (await s.finalMessage().catch((x: unknown) => x)) as InstanceType<typeof Anthropic.APIError>;
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('the OpenAI routes keep the OpenAI shape', async () => {
    const r = await h.post('/v1/chat/completions', {
      model: 'mock/deny-429',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.status).toBe(429);
    expect(await r.json()).toMatchObject({ error: { type: 'rate_limit_error', param: null } });
  });
});

describe('Gemini-family errors through @google/genai', () => {
  const cases: [string, number, string][] = [
    ['mock/deny-401', 401, 'UNAUTHENTICATED'],
    ['mock/deny-402', 402, 'RESOURCE_EXHAUSTED'],
    ['mock/deny-403', 403, 'PERMISSION_DENIED'],
    ['mock/deny-429', 429, 'RESOURCE_EXHAUSTED'],
    ['nokey/gpt-4o', 503, 'UNAVAILABLE'],
    ['nobody/x', 400, 'INVALID_ARGUMENT'],
  ];
  for (const [model, status, name] of cases)
    it(`${model} → ${status} ${name}`, async () => {
      const e = await gen(model);
      expect(e.status).toBe(status);
      expect(e.body.error).toMatchObject({ code: status, status: name, message: expect.any(String) });
    });

  it('an upstream 5xx → 502 UNAVAILABLE; a bad body → 400 INVALID_ARGUMENT naming the field', async () => {
    up.next({ status: 500, path: '/chat/completions' });
    const e = await gen('openai/gpt-4o');
    expect(e.status).toBe(502);
    expect(e.body.error.status).toBe('UNAVAILABLE');
    const r = await fetch(`${h.base}/genai/v1beta/models/mock/m:generateContent`, {
      method: 'POST',
      body: JSON.stringify({ contents: [] }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        type: 'invalid_request_error',
        param: 'contents',
        details: [{ fieldViolations: [{ field: 'contents' }] }],
      },
    });
  });

  it('unknown method, unknown version, unknown path and the model list keep the shape', async () => {
    for (const [path, method, status, name] of [
      ['/genai/v1beta/models/mock/m:explode', 'POST', 404, 'NOT_FOUND'],
      ['/genai/v9/models/mock/m:generateContent', 'POST', 404, 'NOT_FOUND'],
      ['/genai/v1beta/tunedModels', 'GET', 404, 'NOT_FOUND'],
    ] as const) {
      const r = await fetch(h.base + path, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(r.status, path).toBe(status);
      expect(await r.json(), path).toMatchObject({ error: { code: status, status: name } });
    }
    const list = await fetch(`${h.base}/genai/v1beta/models`, { headers: { 'x-goog-api-key': 'bad-vk' } });
    expect(list.status).toBe(401);
    expect(await list.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
  });

  it('a stream that breaks after its first chunk ends with an error chunk the SDK throws as ApiError', async () => {
    const run = async () => {
      for await (const _ of await ai.models.generateContentStream({
        model: 'hostile/bad-json',
        contents: 'hi',
      }));
    };
    const e = await run().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(502);
    expect((e as ApiError).message).toContain('UNAVAILABLE');
  });
});
