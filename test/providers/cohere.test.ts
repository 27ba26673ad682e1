import { CohereClientV2 } from 'cohere-ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/gateway/canonical.js';
import { CohereStreamDecoder } from '../../src/providers/cohere/stream.js';
import { startCohereFake } from '../fakes/cohere.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { fakeNet, startGatewayNode } from '../support/gateway-node.js';

let fake: FakeServer;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;
beforeAll(async () => {
  fake = await startCohereFake();
  gw = await startGatewayNode({
    cohere: { keys: [{ value: 'cohere-key-1' }], network_config: fakeNet(fake.url) },
  });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('Cohere contract fake, checked with cohere-ai (CohereClientV2)', () => {
  const co = () => new CohereClientV2({ token: 'cohere-key-1', environment: fake.url });
  it('chat, chatStream and embed', async () => {
    const r = await co().chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hallå' }] });
    expect(r.message.content?.[0]).toMatchObject({ type: 'text', text: 'echo: hallå' });
    let text = '';
    for await (const e of await co().chatStream({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: '流' }],
    })) {
      if (e.type === 'content-delta') text += e.delta?.message?.content?.text ?? '';
    }
    expect(text).toBe('echo: 流');
    const e = await co().embed({
      model: 'embed-v4.0',
      texts: ['a'],
      inputType: 'search_document',
      embeddingTypes: ['float'],
    });
    expect(e.embeddings.float?.[0]).toHaveLength(1024);
  });
});

describe('cohere provider through the gateway', () => {
  it('chat JSON, stream, tool call, embeddings', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'ok ✓' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: ok ✓');
    let text = '';
    for await (const c of await gw.openai.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'stream 🙂' }],
      stream: true,
    })) {
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('echo: stream 🙂');
    const t = await gw.openai.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        {
          type: 'function',
          function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } },
        },
      ],
      tool_choice: 'required',
    });
    expect(t.choices[0]!.finish_reason).toBe('tool_calls');
    expect(t.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      function: { name: 'f', arguments: '{"a":"Paris"}' },
    });
    const e = await gw.openai.embeddings.create({
      model: 'cohere/embed-v4.0',
      input: ['a', 'b'],
      encoding_format: 'float',
    });
    expect(e.data).toHaveLength(2);
  });

  it('stream decoding is the same at every split offset', () => {
    const ev = (type: string, d: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...d })}\n\n`;
    const body = Buffer.from(
      ev('message-start', { id: 'x' }) +
        ev('content-delta', { index: 0, delta: { message: { content: { text: '日本語 👍🏽 é' } } } }) +
        ev('message-end', {
          delta: { finish_reason: 'COMPLETE', usage: { tokens: { input_tokens: 1, output_tokens: 2 } } },
        }) +
        'data: [DONE]\n\n',
    );
    const run = (chunks: Buffer[]) => {
      const d = new CohereStreamDecoder('m', 1 << 20);
      const out: StreamEvent[] = [];
      for (const c of chunks) out.push(...d.push(c));
      out.push(...d.end());
      return out.map((e) => (e.type === 'start' ? { ...e, created: 0 } : e));
    };
    const whole = run([body]);
    expect(whole.map((e) => e.type)).toEqual(['start', 'text', 'finish', 'usage', 'end']);
    for (let i = 1; i < body.length; i++) expect(run([body.subarray(0, i), body.subarray(i)])).toEqual(whole);
  });
});
