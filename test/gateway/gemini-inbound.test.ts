import { GoogleGenAI } from '@google/genai';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGenerateBody } from '../../src/gateway/inbound/gemini-request.js';
import { HttpError } from '../../src/server/errors.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';

let gw: InProcessNode;
const clients: [string, () => GoogleGenAI][] = [
  ['default version', () => new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: `${gw.base}/genai` } })],
  [
    'v1beta',
    () =>
      new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: `${gw.base}/genai`, apiVersion: 'v1beta' } }),
  ],
];

beforeAll(async () => {
  gw = await startInProcessNode();
});
afterAll(async () => {
  await gw?.stop();
});

describe.each(clients)('@google/genai (%s) through /genai against the mock', (_n, make) => {
  it('generateContent: text with system instruction and usage', async () => {
    const ai = make();
    const r = await ai.models.generateContent({
      model: 'mock/mock-chat',
      contents: [{ role: 'user', parts: [{ text: 'hello 你好 👋' }] }],
      config: { systemInstruction: 'be brief', temperature: 0.2, maxOutputTokens: 64 },
    });
    expect(typeof r.text).toBe('string');
    expect(r.candidates?.[0]?.finishReason).toBeDefined();
    expect(r.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
  });

  it('streamGenerateContent: chunks with text, a final finishReason', async () => {
    const ai = make();
    let text = '';
    let finish: unknown;
    for await (const c of await ai.models.generateContentStream({
      model: 'mock/mock-chat',
      contents: 'stream 日本語 🎉',
    })) {
      text += c.text ?? '';
      finish = c.candidates?.[0]?.finishReason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain('\uFFFD');
    expect(finish).toBe('STOP');
  });

  it('models.list', async () => {
    const ai = make();
    const names: string[] = [];
    for await (const m of await ai.models.list()) names.push(m.name ?? '');
    expect(names).toContain('models/mock/mock-chat');
  });
});

describe('edge validation', () => {
  it('a bad body is a 400 naming the field', async () => {
    const r = await fetch(`${gw.base}/genai/v1beta/models/mock/mock-chat:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 5 }] }] }),
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain('contents[0].parts[0]');
  });

  it('the request translator on arbitrary JSON only throws a 400 HttpError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (contents, gc) => {
        try {
          decodeGenerateBody({ contents, generationConfig: gc, tools: gc }, 'm', false);
        } catch (e) {
          if (!(e instanceof HttpError) || e.status !== 400) throw e;
        }
      }),
      { numRuns: 500, verbose: true },
    );
  });
});
