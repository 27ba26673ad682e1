import { GoogleGenAI, Type } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiFake } from '../fakes/gemini.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { MockUpstream } from '../support/mock-upstream.js';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const lookup = {
  name: 'lookup',
  description: 'Find a city',
  parameters: {
    type: Type.OBJECT,
    properties: { q: { type: Type.STRING }, n: { type: Type.INTEGER } },
    required: ['q', 'n'],
  },
};

let gw: InProcessNode;
let fake: FakeServer;
const up = new MockUpstream();
let ai: GoogleGenAI;

beforeAll(async () => {
  fake = await startGeminiFake();
  await up.start();
  gw = await startInProcessNode({
    providers: {
      mock: { keys: [{ value: 'mock-key' }] },
      gemini: { keys: [{ value: 'gemini-key-1' }], network_config: { base_url: fake.url, max_retries: 0 } },
      // An OpenAI-compatible aggregator whose model names carry their own "/".
      openrouter: {
        type: 'openai',
        keys: [{ value: 'sk-or', models: ['anthropic/claude-3.5', 'meta-llama/Llama-3-8b:free'] }],
        network_config: { base_url: up.url, max_retries: 0 },
      },
    },
  });
  ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: `${gw.base}/genai` } });
});
afterAll(async () => {
  await gw?.stop();
  await up.stop();
  await fake?.close();
});

describe('@google/genai features through /genai', () => {
  for (const model of ['mock/mock-chat', 'gemini/gemini-2.5-flash'])
    it(`function declarations and a forced call → functionCalls (${model})`, async () => {
      const r = await ai.models.generateContent({
        model,
        contents: 'find Paris',
        config: {
          tools: [{ functionDeclarations: [lookup] }],
          toolConfig: { functionCallingConfig: { mode: 'ANY' as never, allowedFunctionNames: ['lookup'] } },
        },
      });
      expect(r.functionCalls?.[0]).toMatchObject({ name: 'lookup', args: { q: expect.any(String) } });
      // The tool result goes back as a functionResponse part.
      const back = await ai.models.generateContent({
        model,
        contents: [
          { role: 'user', parts: [{ text: 'find Paris' }] },
          { role: 'model', parts: [{ functionCall: r.functionCalls![0]! }] },
          { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { answer: 42 } } }] },
        ],
        config: { tools: [{ functionDeclarations: [lookup] }] },
      });
      expect(typeof back.text).toBe('string');
    });

  it('function call in a stream (mock)', async () => {
    const calls: unknown[] = [];
    for await (const c of await ai.models.generateContentStream({
      model: 'mock/mock-chat',
      contents: 'find Paris',
      config: {
        tools: [{ functionDeclarations: [lookup] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY' as never } },
      },
    }))
      calls.push(...(c.functionCalls ?? []));
    expect(calls[0]).toMatchObject({ name: 'lookup', args: { q: expect.any(String), n: 1 } });
  });

  it('responseSchema (OpenAPI subset) and responseJsonSchema → JSON valid for the schema (mock)', async () => {
    const r = await ai.models.generateContent({
      model: 'mock/mock-chat',
      contents: 'a person',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.OBJECT,
          properties: { name: { type: Type.STRING }, age: { type: Type.INTEGER } },
          required: ['name', 'age'],
        },
      },
    });
    expect(JSON.parse(r.text!)).toMatchObject({ name: expect.any(String), age: expect.any(Number) });
    const j = await ai.models.generateContent({
      model: 'mock/mock-chat',
      contents: 'a city',
      config: {
        responseMimeType: 'application/json',
        responseJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    });
    expect(JSON.parse(j.text!)).toMatchObject({ city: expect.any(String) });
  });

  it('inline image parts reach the upstream (gemini: as inlineData; OpenAI-compatible: as a data URL)', async () => {
    const contents = [
      { role: 'user', parts: [{ text: 'see' }, { inlineData: { mimeType: 'image/png', data: PNG } }] },
    ];
    const g = await ai.models.generateContent({ model: 'gemini/gemini-2.5-flash', contents });
    expect(g.text).toBe(`echo: see [images: image/png ${Buffer.from(PNG, 'base64').length} bytes]`);
    await ai.models.generateContent({ model: 'openrouter/anthropic/claude-3.5', contents });
    const sent = up.on('/chat/completions').at(-1)!.body as { messages: { content: unknown }[] };
    expect(JSON.stringify(sent.messages)).toContain(`data:image/png;base64,${PNG}`);
  });

  for (const model of ['mock/mock-embed', 'gemini/text-embedding-004'])
    it(`embedContent (the SDK calls :batchEmbedContents), several texts and outputDimensionality (${model})`, async () => {
      const r = await ai.models.embedContent({
        model,
        contents: ['one', 'two', 'three'],
        config: { outputDimensionality: 8, taskType: 'RETRIEVAL_DOCUMENT' },
      });
      expect(r.embeddings).toHaveLength(3);
      for (const e of r.embeddings!) expect(e.values).toHaveLength(8);
      expect(r.embeddings![0]!.values).not.toEqual(r.embeddings![1]!.values);
    });

  it('a batch whose requests disagree on outputDimensionality is a 400 naming the field', async () => {
    const r = await fetch(`${gw.base}/genai/v1beta/models/mock/mock-embed:batchEmbedContents`, {
      method: 'POST',
      body: JSON.stringify({
        requests: [
          { content: { parts: [{ text: 'a' }] }, outputDimensionality: 8 },
          { content: { parts: [{ text: 'b' }] }, outputDimensionality: 4 },
        ],
      }),
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain('requests[1].outputDimensionality');
  });

  for (const model of ['mock/mock-chat', 'gemini/gemini-2.5-flash'])
    it(`countTokens (${model})`, async () => {
      const r = await ai.models.countTokens({ model, contents: 'how many tokens is this sentence?' });
      expect(r.totalTokens).toBeGreaterThan(0);
    });
});

describe('model names that contain "/"', () => {
  it('generateContent and stream reach the upstream with the whole name', async () => {
    const r = await ai.models.generateContent({ model: 'openrouter/anthropic/claude-3.5', contents: 'hi' });
    expect(r.text!.length).toBeGreaterThan(0);
    expect(up.on('/chat/completions').at(-1)!.body!.model).toBe('anthropic/claude-3.5');
    let text = '';
    for await (const c of await ai.models.generateContentStream({
      model: 'openrouter/meta-llama/Llama-3-8b:free',
      contents: 'hi',
    }))
      text += c.text ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(up.on('/chat/completions').at(-1)!.body!.model).toBe('meta-llama/Llama-3-8b:free');
  });

  it('GET /v1/models/{provider}/{model} retrieves one whose name has "/"; an unknown one is 404', async () => {
    const r = await fetch(`${gw.base}/v1/models/openrouter/meta-llama/Llama-3-8b:free`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({
      id: 'openrouter/meta-llama/Llama-3-8b:free',
      owned_by: 'openrouter',
    });
    const simple = await fetch(`${gw.base}/v1/models/mock/mock-chat`);
    expect(simple.status).toBe(200);
    const miss = await fetch(`${gw.base}/v1/models/openrouter/meta-llama/nope`);
    expect(miss.status).toBe(404);
    expect(await miss.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
  });

  it('a path with no method or no model is a Gemini-shaped 404', async () => {
    for (const p of ['mock:generateContent', 'mock/:generateContent', 'mock/m', 'mock/m:']) {
      const r = await fetch(`${gw.base}/genai/v1beta/models/${p}`, { method: 'POST', body: '{}' });
      expect(r.status, p).toBe(404);
      expect(await r.json(), p).toMatchObject({ error: { status: 'NOT_FOUND' } });
    }
  });
});
