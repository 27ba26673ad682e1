import { FunctionCallingConfigMode, GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiFake } from '../fakes/gemini.js';
import type { FakeServer } from '../fakes/llm-brain.js';

// The Gemini fake checked by the official @google/genai SDK (API-key mode).
let fake: FakeServer;
beforeAll(async () => {
  fake = await startGeminiFake();
});
afterAll(() => fake.close());

const ai = (apiKey = 'gemini-key-1', apiVersion?: string) =>
  new GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.url, ...(apiVersion && { apiVersion }) } });

describe('Gemini contract fake, checked with @google/genai', () => {
  it('generateContent: text, usage, finish reason; x-goog-api-key sent', async () => {
    const r = await ai().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'naïve 日本語',
      config: { systemInstruction: 'short', maxOutputTokens: 20 },
    });
    expect(r.text).toBe('echo: naïve 日本語');
    expect(r.candidates?.[0]?.finishReason).toBe('STOP');
    expect(r.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
    expect(fake.requests.at(-1)!.headers['x-goog-api-key']).toBe('gemini-key-1');
    expect(fake.requests.at(-1)!.url).toMatch(/^\/v1beta\/models\/gemini-2\.5-flash:generateContent/);
  });

  it('streamGenerateContent?alt=sse, and apiVersion v1', async () => {
    let text = '';
    for await (const c of await ai('gemini-key-1', 'v1').models.generateContentStream({
      model: 'gemini-2.0-flash',
      contents: 'stream 🙂',
    })) {
      text += c.text ?? '';
    }
    expect(text).toBe('echo: stream 🙂');
    expect(fake.requests.at(-1)!.url).toBe('/v1/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });

  it('function calling with a forced function, and inline image data', async () => {
    const r = await ai().models.generateContent({
      model: 'gemini-2.5-pro',
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'weather' },
            { inlineData: { mimeType: 'image/png', data: Buffer.from('png!').toString('base64') } },
          ],
        },
      ],
      config: {
        tools: [
          {
            functionDeclarations: [
              {
                name: 'get_weather',
                parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
              },
            ],
          },
        ],
        toolConfig: {
          functionCallingConfig: {
            mode: FunctionCallingConfigMode.ANY,
            allowedFunctionNames: ['get_weather'],
          },
        },
      },
    });
    expect(r.functionCalls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
  });

  it('embedContent (batched by the SDK), countTokens, models list and get', async () => {
    const e = await ai().models.embedContent({
      model: 'text-embedding-004',
      contents: ['a', 'b'],
      config: { outputDimensionality: 8 },
    });
    expect(e.embeddings?.map((x) => x.values?.length)).toEqual([8, 8]);
    const t = await ai().models.countTokens({ model: 'gemini-2.5-flash', contents: 'count me' });
    expect(t.totalTokens).toBeGreaterThan(0);
    const names: string[] = [];
    for await (const m of await ai().models.list({ config: { pageSize: 2 } })) names.push(m.name!);
    expect(names).toContain('models/gemini-2.5-pro');
    expect(names.length).toBeGreaterThan(2);
    expect((await ai().models.get({ model: 'gemini-2.5-pro' })).name).toBe('models/gemini-2.5-pro');
  });

  it('a wrong API key is 400 API_KEY_INVALID, an unknown model 404', async () => {
    await expect(
      ai('nope').models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
    ).rejects.toMatchObject({
      status: 400,
    });
    await expect(ai().models.generateContent({ model: 'gemini-9', contents: 'x' })).rejects.toMatchObject({
      status: 404,
    });
  });
});
