import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BedrockFake, startBedrockFake } from '../fakes/bedrock.js';
import { fakeNet, startGatewayNode } from '../support/gateway-node.js';

// The openai SDK → gateway → Bedrock (SigV4-verifying fake), JSON and stream.
let fake: BedrockFake;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

beforeAll(async () => {
  fake = await startBedrockFake({ apiKeys: ['br-api-key'] });
  gw = await startGatewayNode({
    bedrock: {
      keys: [
        {
          name: 'sigv4',
          bedrock_key_config: {
            access_key: 'AKIDFAKE',
            secret_key: 'fake-secret',
            region: 'us-east-1',
            deployments: { claude: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0' },
          },
        },
      ],
      network_config: fakeNet(fake.url),
    },
    brkey: { type: 'bedrock', keys: [{ value: 'br-api-key' }], network_config: fakeNet(fake.url) },
  });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('bedrock provider through the gateway', () => {
  it('chat JSON with a deployment alias, SigV4 accepted by the fake', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'bedrock/claude',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'héllo 世界' },
      ],
    });
    expect(r.choices[0]!.message.content).toBe('echo: héllo 世界');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    const sent = fake.requests.at(-1)!;
    expect(sent.url).toBe('/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse');
    expect(String(sent.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKE\//);
    expect(fake.authFailures).toEqual([]);
  });

  it('chat stream (event-stream frames → SSE), Bedrock API key as Bearer', async () => {
    const s = await gw.openai.chat.completions.create({
      model: 'brkey/amazon.nova-lite-v1:0',
      messages: [{ role: 'user', content: 'emoji 👍🏽 e\u0301' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage = 0;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage.completion_tokens;
    }
    expect(text).toBe('echo: emoji 👍🏽 e\u0301');
    expect(finish).toBe('stop');
    expect(usage).toBeGreaterThan(0);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer br-api-key');
  });

  it('tool call JSON and stream; image input', async () => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
    const r = await gw.openai.chat.completions.create({
      model: 'bedrock/claude',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'weather?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
      ],
      tools: [weatherTool],
      tool_choice: 'required',
    });
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    const call = r.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

    const s = await gw.openai.chat.completions.create({
      model: 'bedrock/claude',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [weatherTool],
      stream: true,
    });
    let args = '';
    let name = '';
    for await (const c of s) {
      const tc = c.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });

    const img = await gw.openai.chat.completions.create({
      model: 'bedrock/claude',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'see' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
      ],
    });
    expect(img.choices[0]!.message.content).toBe('echo: see [images: image/png 8 bytes]');
  });

  it('embeddings: Titan (one call per input, merged) and Cohere', async () => {
    const t = await gw.openai.embeddings.create({
      model: 'bedrock/amazon.titan-embed-text-v2:0',
      input: ['a', 'b', 'c'],
      dimensions: 256,
      encoding_format: 'float',
    });
    expect(t.data.map((d) => d.embedding.length)).toEqual([256, 256, 256]);
    const c = await gw.openai.embeddings.create({
      model: 'bedrock/cohere.embed-english-v3',
      input: ['x', 'y'],
    });
    expect(c.data).toHaveLength(2);
  });

  it('throttling is a 429 to the client, ServiceUnavailable is retried, a validation error is not', async () => {
    fake.failNext = { status: 429, count: 1 };
    await expect(
      gw.openai.chat.completions.create({
        model: 'bedrock/amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 429 });
    fake.failNext = { status: 503, count: 1 };
    const r = await gw.openai.chat.completions.create({
      model: 'bedrock/amazon.nova-lite-v1:0',
      messages: [{ role: 'user', content: 'again' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: again');
    const before = fake.requests.length;
    await expect(
      gw.openai.chat.completions.create({
        model: 'bedrock/not-a-model',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect(fake.requests.length - before).toBe(1);
  });
});
