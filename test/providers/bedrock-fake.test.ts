import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BedrockFake, FAKE_AWS_KEY, FAKE_AWS_SESSION_KEY, startBedrockFake } from '../fakes/bedrock.js';

// The fake is checked by the official AWS SDK: if it accepts the SDK's
// signatures and the SDK decodes its frames, it speaks Bedrock's contract.
let fake: BedrockFake;
const good = FAKE_AWS_KEY;

beforeAll(async () => {
  fake = await startBedrockFake();
});
afterAll(() => fake.close());

const client = (credentials = good, extra: Record<string, unknown> = {}) =>
  new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.url,
    credentials,
    maxAttempts: 1,
    // The SDK's default handler is HTTP/2 over TLS; the fake is HTTP/1.1 on loopback.
    requestHandler: new NodeHttpHandler(),
    ...extra,
  });

describe('Bedrock contract fake, checked with @aws-sdk/client-bedrock-runtime', () => {
  it('Converse: text, usage, stop reason', async () => {
    const r = await client().send(
      new ConverseCommand({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        messages: [{ role: 'user', content: [{ text: 'héllo 世界' }] }],
        system: [{ text: 'be brief' }],
        inferenceConfig: { maxTokens: 50 },
      }),
    );
    expect(r.output?.message?.content?.[0]?.text).toBe('echo: héllo 世界');
    expect(r.stopReason).toBe('end_turn');
    expect(r.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('Converse with a tool and an image; session-token credentials', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const r = await client(FAKE_AWS_SESSION_KEY as typeof good).send(
      new ConverseCommand({
        modelId: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0',
        messages: [
          {
            role: 'user',
            content: [{ text: 'weather?' }, { image: { format: 'png', source: { bytes: png } } }],
          },
        ],
        toolConfig: {
          tools: [
            {
              toolSpec: {
                name: 'get_weather',
                inputSchema: {
                  json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
                },
              },
            },
          ],
          toolChoice: { any: {} },
        },
      }),
    );
    expect(r.stopReason).toBe('tool_use');
    expect(r.output?.message?.content?.[0]?.toolUse).toMatchObject({
      name: 'get_weather',
      input: { city: 'Paris' },
    });
  });

  it('ConverseStream: event-stream frames decode to the event sequence', async () => {
    const r = await client().send(
      new ConverseStreamCommand({
        modelId: 'amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: [{ text: 'emoji 👍🏽 and e\u0301' }] }],
      }),
    );
    const kinds: string[] = [];
    let text = '';
    for await (const ev of r.stream!) {
      const k = Object.keys(ev).find((x) => (ev as unknown as Record<string, unknown>)[x] !== undefined)!;
      kinds.push(k);
      if (ev.contentBlockDelta?.delta?.text) text += ev.contentBlockDelta.delta.text;
      if (ev.metadata) expect(ev.metadata.usage?.outputTokens).toBeGreaterThan(0);
    }
    expect(text).toBe('echo: emoji 👍🏽 and e\u0301');
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
  });

  it('InvokeModel: Titan and Cohere embeddings', async () => {
    const titan = await client().send(
      new InvokeModelCommand({
        modelId: 'amazon.titan-embed-text-v2:0',
        contentType: 'application/json',
        body: JSON.stringify({ inputText: 'hi', dimensions: 256 }),
      }),
    );
    const t = JSON.parse(Buffer.from(titan.body).toString());
    expect(t.embedding).toHaveLength(256);
    const cohere = await client().send(
      new InvokeModelCommand({
        modelId: 'cohere.embed-english-v3',
        contentType: 'application/json',
        body: JSON.stringify({ texts: ['a', 'b'], input_type: 'search_document' }),
      }),
    );
    expect(JSON.parse(Buffer.from(cohere.body).toString()).embeddings).toHaveLength(2);
  });

  it('refuses a wrong secret, an unknown key and an expired signature', async () => {
    const req = () =>
      new ConverseCommand({
        modelId: 'amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: [{ text: 'x' }] }],
      });
    await expect(client({ ...good, secretAccessKey: 'wrong' }).send(req())).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    await expect(client({ ...good, accessKeyId: 'AKIDNOPE' }).send(req())).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    // A clock 10 minutes behind signs with a stale date.
    await expect(client(good, { systemClockOffset: -10 * 60_000 }).send(req())).rejects.toThrow(
      /Signature expired/,
    );
  });

  it('validates like Bedrock: a conversation must start with a user message', async () => {
    await expect(
      client().send(
        new ConverseCommand({
          modelId: 'amazon.nova-lite-v1:0',
          messages: [{ role: 'assistant', content: [{ text: 'x' }] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  });

  it('accepts Bedrock API keys as Bearer and refuses unknown ones', async () => {
    const call = (token: string) =>
      fetch(`${fake.url}/model/amazon.nova-lite-v1%3A0/converse`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'k' }] }] }),
      });
    expect((await call('bedrock-api-key-1')).status).toBe(200);
    expect((await call('nope')).status).toBe(403);
  });
});
