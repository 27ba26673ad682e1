import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceAccountTokenSource, signAssertion } from '../../src/providers/vertex/auth.js';
import { parseServiceAccount } from '../../src/providers/vertex/config.js';
import { startVertexFake, type VertexFake } from '../fakes/vertex.js';

// The Vertex fake checked with @google/genai in vertexai mode (its auth client
// replaced by our JWT-bearer token source, since google-auth-library would
// post to Google's own token URL) and with @anthropic-ai/sdk shaped the way
// Anthropic's Vertex SDK shapes requests (model in the path, anthropic_version
// in the body, rawPredict/streamRawPredict).
let fake: VertexFake;
let tokens: ServiceAccountTokenSource;
beforeAll(async () => {
  fake = await startVertexFake();
  tokens = new ServiceAccountTokenSource(parseServiceAccount(fake.serviceAccountJson));
});
afterAll(() => fake.close());

const genai = () =>
  new GoogleGenAI({
    vertexai: true,
    project: fake.projectId,
    location: fake.region,
    httpOptions: { baseUrl: fake.url },
    googleAuthOptions: {
      authClient: {
        getRequestHeaders: async () => new Headers({ authorization: `Bearer ${await tokens.token()}` }),
      } as never,
    },
  });

function claudeOnVertex(): Anthropic {
  return new Anthropic({
    apiKey: 'unused',
    baseURL: fake.url,
    fetch: async (input, init) => {
      const body = JSON.parse(String(init?.body));
      const { model, stream, ...rest } = body;
      const method = stream ? 'streamRawPredict' : 'rawPredict';
      const url = `${fake.url}/v1/projects/${fake.projectId}/locations/${fake.region}/publishers/anthropic/models/${model}:${method}`;
      void input;
      return fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokens.token()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...rest, ...(stream && { stream }), anthropic_version: 'vertex-2023-10-16' }),
      });
    },
  });
}

describe('Vertex contract fake', () => {
  it('@google/genai (vertexai): generateContent and stream on a Google publisher model', async () => {
    const r = await genai().models.generateContent({ model: 'gemini-2.5-flash', contents: 'grüße 🌍' });
    expect(r.text).toBe('echo: grüße 🌍');
    expect(fake.requests.at(-1)!.url).toBe(
      `/v1beta1/projects/${fake.projectId}/locations/${fake.region}/publishers/google/models/gemini-2.5-flash:generateContent`,
    );
    let text = '';
    for await (const c of await genai().models.generateContentStream({
      model: 'gemini-2.5-pro',
      contents: 'ストリーム',
    })) {
      text += c.text ?? '';
    }
    expect(text).toBe('echo: ストリーム');
  });

  it('one token grant serves many requests, concurrent callers share one refresh', async () => {
    const fresh = new ServiceAccountTokenSource(parseServiceAccount(fake.serviceAccountJson));
    const before = fake.grants;
    const all = await Promise.all(Array.from({ length: 20 }, () => fresh.token()));
    expect(new Set(all).size).toBe(1);
    expect(await fresh.token()).toBe(all[0]);
    expect(fake.grants - before).toBe(1);
  });

  it('refreshes a token shortly before it expires', async () => {
    let now = Date.now();
    const src = new ServiceAccountTokenSource(parseServiceAccount(fake.serviceAccountJson), () => now);
    fake.tokenLifetimeS = 30; // refreshed at 90% of a short life
    const first = await src.token();
    now += 20_000;
    expect(await src.token()).toBe(first);
    now += 8_000; // the fake checks iat against its own clock: stay within its 60 s skew
    const second = await src.token();
    fake.tokenLifetimeS = 3599;
    expect(second).not.toBe(first);
    expect(src.grants).toBe(2);
  });

  it('the token endpoint refuses a bad signature, a wrong audience and a missing scope', async () => {
    const sa = parseServiceAccount(fake.serviceAccountJson);
    const post = (assertion: string) =>
      fetch(sa.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      });
    const now = Math.floor(Date.now() / 1000);
    const good = signAssertion(sa, now);
    expect((await post(good)).status).toBe(200);
    const [h, c] = good.split('.');
    expect((await post(`${h}.${c}.${Buffer.from('forged').toString('base64url')}`)).status).toBe(400);
    expect(
      (await post(signAssertion({ ...sa, token_uri: 'https://oauth2.googleapis.com/token' }, now))).status,
    ).toBe(400);
    expect(
      (await post(signAssertion(sa, now, 'https://www.googleapis.com/auth/userinfo.email'))).status,
    ).toBe(400);
    expect((await post(signAssertion(sa, now - 7200))).status).toBe(400);
    expect(fake.refusedGrants).toContain('Invalid JWT Signature.');
  });

  it('API calls without a live access token are 401', async () => {
    const r = await fetch(
      `${fake.url}/v1/projects/${fake.projectId}/locations/${fake.region}/publishers/google/models/gemini-2.5-flash:generateContent`,
      { method: 'POST', headers: { authorization: 'Bearer ya29.forged' }, body: '{}' },
    );
    expect(r.status).toBe(401);
  });

  it('@anthropic-ai/sdk shape: Claude rawPredict JSON, tool use, and streamRawPredict', async () => {
    const claude = claudeOnVertex();
    const m = await claude.messages.create({
      model: 'claude-sonnet-4@20250514',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hej 😀' }],
    });
    expect(m.content[0]).toMatchObject({ type: 'text', text: 'echo: hej 😀' });
    const t = await claude.messages.create({
      model: 'claude-sonnet-4@20250514',
      max_tokens: 64,
      tools: [
        {
          name: 'lookup',
          input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
        },
      ],
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: 'find' }],
    });
    expect(t.stop_reason).toBe('tool_use');
    expect(t.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { q: 'Paris' } });
    const s = claude.messages.stream({
      model: 'claude-sonnet-4@20250514',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'stream ✓' }],
    });
    const final = await s.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'echo: stream ✓' });
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });
});
