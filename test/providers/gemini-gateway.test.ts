import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/gateway/canonical.js';
import { GeminiStreamDecoder } from '../../src/providers/gemini/stream.js';
import { startGeminiFake } from '../fakes/gemini.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { fakeNet, startGatewayNode } from '../support/gateway-node.js';

let fake: FakeServer;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;
const tool = {
  type: 'function' as const,
  function: {
    name: 'lookup',
    parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
  },
};

beforeAll(async () => {
  fake = await startGeminiFake();
  gw = await startGatewayNode({
    gemini: { keys: [{ value: 'gemini-key-1' }], network_config: fakeNet(fake.url) },
    badgem: {
      type: 'gemini',
      keys: [{ value: 'wrong-key' }],
      network_config: { ...fakeNet(fake.url), max_retries: 0 },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('gemini provider through the gateway (openai SDK as client)', () => {
  it('chat JSON, x-goog-api-key upstream; JSON schema output', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'short' },
        { role: 'user', content: 'naïve 日本語' },
      ],
    });
    expect(r.choices[0]!.message.content).toBe('echo: naïve 日本語');
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
    expect(fake.requests.at(-1)!.headers['x-goog-api-key']).toBe('gemini-key-1');
    const s = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'json please' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'r',
          schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        },
      },
    });
    expect(JSON.parse(s.choices[0]!.message.content!)).toEqual({ n: 1 });
  });

  it('chat stream over CRLF-separated SSE, with a split inside a multi-byte character', async () => {
    fake.splitStream = (b) => {
      const i = b.indexOf(Buffer.from('👍')) + 2;
      return [b.subarray(0, i), b.subarray(i)];
    };
    const s = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.0-flash',
      messages: [{ role: 'user', content: 'x 👍 y' }],
      stream: true,
    });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    fake.splitStream = undefined;
    expect(text).toBe('echo: x 👍 y');
  });

  it('tool call JSON and stream; tool result round trip; image input', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'find' }],
      tools: [tool],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    const call = r.choices[0]!.message.tool_calls![0]! as {
      id: string;
      function: { name: string; arguments: string };
    };
    expect(JSON.parse(call.function.arguments)).toEqual({ q: 'Paris' });
    const sent = JSON.parse(fake.requests.at(-1)!.body.toString());
    expect(sent.toolConfig.functionCallingConfig).toEqual({ mode: 'ANY', allowedFunctionNames: ['lookup'] });

    const back = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-pro',
      messages: [
        { role: 'user', content: 'find' },
        { role: 'assistant', content: null, tool_calls: [call as never] },
        { role: 'tool', tool_call_id: call.id, content: '{"answer":42}' },
      ],
      tools: [tool],
    });
    expect(back.choices[0]!.message.content).toBe('tool said: {"answer":42}');

    const s = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'find' }],
      tools: [tool],
      stream: true,
    });
    let args = '';
    for await (const c of s) args += c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
    expect(JSON.parse(args)).toEqual({ q: 'Paris' });

    const img = await gw.openai.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'see' },
            {
              type: 'image_url',
              image_url: { url: `data:image/jpeg;base64,${Buffer.from('jpeg!').toString('base64')}` },
            },
          ],
        },
      ],
    });
    expect(img.choices[0]!.message.content).toBe('echo: see [images: image/jpeg 5 bytes]');
  });

  it('embeddings via batchEmbedContents, dimensions honoured', async () => {
    const e = await gw.openai.embeddings.create({
      model: 'gemini/text-embedding-004',
      input: ['a', 'b'],
      dimensions: 16,
      encoding_format: 'float',
    });
    expect(e.data.map((d) => d.embedding.length)).toEqual([16, 16]);
  });

  it('an invalid key (Google answers 400 API_KEY_INVALID) is an auth failure, not a bad request', async () => {
    const err = await gw.openai.chat.completions
      .create({ model: 'badgem/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(err.status).not.toBe(400);
    expect(err.status).toBeGreaterThanOrEqual(401);
  });
});

describe('Gemini stream decoding', () => {
  const body = Buffer.from(
    [
      { candidates: [{ content: { role: 'model', parts: [{ text: '日本' }] }, index: 0 }] },
      {
        candidates: [
          { content: { role: 'model', parts: [{ text: '語 👍🏽 é' }] }, index: 0, finishReason: 'STOP' },
        ],
        usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 3 },
      },
    ]
      .map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`)
      .join(''),
  );
  const run = (chunks: Buffer[]) => {
    const d = new GeminiStreamDecoder('m', 1 << 20);
    const out: StreamEvent[] = [];
    for (const c of chunks) out.push(...d.push(c));
    out.push(...d.end());
    return out.map((e) => (e.type === 'start' ? { ...e, id: '', created: 0 } : e));
  };
  it('gives the same events whatever byte offset splits the stream', () => {
    const whole = run([body]);
    expect(whole.map((e) => e.type)).toEqual(['start', 'text', 'text', 'finish', 'usage', 'end']);
    for (let i = 1; i < body.length; i++)
      expect(run([body.subarray(0, i), body.subarray(i)]), `split at ${i}`).toEqual(whole);
  });
});
