import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVertexFake, type VertexFake } from '../fakes/vertex.js';
import { fakeNet, startGatewayNode } from '../support/gateway-node.js';

let fake: VertexFake;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;

beforeAll(async () => {
  fake = await startVertexFake();
  const key = { project_id: fake.projectId, region: fake.region, auth_credentials: fake.serviceAccountJson };
  gw = await startGatewayNode({
    vertex: { keys: [{ name: 'sa', vertex_key_config: key }], network_config: fakeNet(fake.url) },
  });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('vertex provider through the gateway (openai SDK as client)', () => {
  it('Gemini model JSON and stream; one token grant for many calls', async () => {
    const before = fake.grants;
    const r = await gw.openai.chat.completions.create({
      model: 'vertex/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'grüße 🌍' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: grüße 🌍');
    const s = await gw.openai.chat.completions.create({
      model: 'vertex/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'ストリーム' }],
      stream: true,
    });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('echo: ストリーム');
    expect(fake.grants - before).toBe(1);
    expect(fake.requests.at(-1)!.url).toBe(
      `/v1/projects/${fake.projectId}/locations/${fake.region}/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse`,
    );
  });

  it('Claude model through rawPredict (JSON, tool call) and streamRawPredict', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'user', content: 'hej 😀' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: hej 😀');
    const sent = JSON.parse(fake.requests.at(-1)!.body.toString());
    expect(sent.anthropic_version).toBe('vertex-2023-10-16');
    expect(sent.model).toBeUndefined();
    const t = await gw.openai.chat.completions.create({
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'user', content: 'find' }],
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
        },
      ],
      tool_choice: 'required',
    });
    expect(t.choices[0]!.finish_reason).toBe('tool_calls');
    const s = await gw.openai.chat.completions.create({
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'user', content: 'stream ✓' }],
      stream: true,
    });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('echo: stream ✓');
  });

  it('embeddings through :predict', async () => {
    const e = await gw.openai.embeddings.create({
      model: 'vertex/text-embedding-005',
      input: ['a'],
      dimensions: 8,
      encoding_format: 'float',
    });
    expect(e.data[0]!.embedding).toHaveLength(8);
  });
});
