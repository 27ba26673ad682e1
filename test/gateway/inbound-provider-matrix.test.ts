import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, Type } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake } from '../fakes/anthropic.js';
import { startAzureFake } from '../fakes/azure.js';
import { type BedrockFake, startBedrockFake } from '../fakes/bedrock.js';
import { startCohereFake } from '../fakes/cohere.js';
import { startGeminiFake } from '../fakes/gemini.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { startVertexFake, type VertexFake } from '../fakes/vertex.js';
import { fakeNet } from '../support/gateway-node.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';

/**
 * Every inbound SDK × every provider type (each behind its contract fake) × {JSON, stream} × {text, tool call},
 * through one in-process node. The fakes share one deterministic brain: the same question gets the same
 * answer everywhere, so every cell checks the exact text and the exact tool arguments.
 */

const PROMPT = 'matrix ünïcode 👋';
const ANSWER = `echo: ${PROMPT}`;
const CITY = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] };

interface Fakes {
  azure: FakeServer;
  anthropic: FakeServer;
  gemini: FakeServer;
  vertex: VertexFake;
  bedrock: BedrockFake;
  cohere: FakeServer;
}
let f: Fakes;
let gw: InProcessNode;
let oa: OpenAI;
let an: Anthropic;
let ai: GoogleGenAI;

/** provider/model per provider type. */
const TARGETS: Record<string, string> = {
  openai: 'openai/my-gpt4o',
  anthropic: 'anthropic/claude-sonnet-4-20250514',
  gemini: 'gemini/gemini-2.5-flash',
  vertex: 'vertex/gemini-2.5-flash',
  bedrock: 'bedrock/claude',
  cohere: 'cohere/command-a-03-2025',
  azure: 'azure/gpt-4o',
};

beforeAll(async () => {
  const [azure, anthropic, gemini, vertex, bedrock, cohere] = await Promise.all([
    startAzureFake(),
    startAnthropicFake(),
    startGeminiFake(),
    startVertexFake(),
    startBedrockFake(),
    startCohereFake(),
  ]);
  f = { azure, anthropic, gemini, vertex, bedrock, cohere };
  const net = (url: string) => ({ ...fakeNet(url), max_retries: 0 });
  gw = await startInProcessNode({
    providers: {
      // OpenAI wire format: the Azure fake's v1 API takes a bearer key and the deployment as `model`.
      openai: { keys: [{ value: 'azure-key-1' }], network_config: net(`${azure.url}/openai/v1`) },
      anthropic: { keys: [{ value: 'anthropic-key-1' }], network_config: net(anthropic.url) },
      gemini: { keys: [{ value: 'gemini-key-1' }], network_config: net(gemini.url) },
      vertex: {
        keys: [
          {
            name: 'sa',
            vertex_key_config: {
              project_id: vertex.projectId,
              region: vertex.region,
              auth_credentials: vertex.serviceAccountJson,
            },
          },
        ],
        network_config: net(vertex.url),
      },
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
        network_config: net(bedrock.url),
      },
      cohere: { keys: [{ value: 'cohere-key-1' }], network_config: net(cohere.url) },
      azure: {
        keys: [
          {
            name: 'classic',
            value: 'azure-key-1',
            azure_key_config: {
              endpoint: azure.url,
              api_version: '2024-10-21',
              deployments: { 'gpt-4o': 'my-gpt4o' },
            },
          },
        ],
        network_config: net(azure.url),
      },
    },
  });
  oa = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  an = new Anthropic({ baseURL: `${gw.base}/anthropic`, apiKey: 'unused', maxRetries: 0 });
  ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${gw.base}/genai` } });
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await Promise.all(Object.values(f ?? {}).map((x) => x.close()));
});

type Out = { text: string } | { tool: string; args: unknown };

const clients: Record<string, (model: string, stream: boolean, tool: boolean) => Promise<Out>> = {
  async openai(model, stream, tool) {
    const req = {
      model,
      messages: [{ role: 'user' as const, content: PROMPT }],
      ...(tool
        ? {
            tools: [{ type: 'function' as const, function: { name: 'weather', parameters: CITY } }],
            tool_choice: 'required' as const,
          }
        : {}),
    };
    if (!stream) {
      const m = (await oa.chat.completions.create(req)).choices[0]!.message;
      const tc = m.tool_calls?.[0];
      return tc && tc.type === 'function'
        ? { tool: tc.function.name, args: JSON.parse(tc.function.arguments) }
        : { text: m.content ?? '' };
    }
    let text = '';
    let name = '';
    let args = '';
    for await (const c of await oa.chat.completions.create({ ...req, stream: true })) {
      const d = c.choices[0]?.delta;
      text += d?.content ?? '';
      name += d?.tool_calls?.[0]?.function?.name ?? '';
      args += d?.tool_calls?.[0]?.function?.arguments ?? '';
    }
    return name ? { tool: name, args: JSON.parse(args) } : { text };
  },
  async anthropic(model, stream, tool) {
    const req = {
      model,
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: PROMPT }],
      ...(tool
        ? { tools: [{ name: 'weather', input_schema: CITY }], tool_choice: { type: 'any' as const } }
        : {}),
    };
    const msg = stream ? await an.messages.stream(req).finalMessage() : await an.messages.create(req);
    const b = msg.content.find((x) => x.type === 'tool_use' || x.type === 'text')!;
    return b.type === 'tool_use'
      ? { tool: b.name, args: b.input }
      : { text: b.type === 'text' ? b.text : '' };
  },
  async genai(model, stream, tool) {
    const config = tool
      ? {
          tools: [
            {
              functionDeclarations: [
                {
                  name: 'weather',
                  parameters: {
                    type: Type.OBJECT,
                    properties: { city: { type: Type.STRING } },
                    required: ['city'],
                  },
                },
              ],
            },
          ],
          toolConfig: { functionCallingConfig: { mode: 'ANY' as never } },
        }
      : {};
    if (!stream) {
      const r = await ai.models.generateContent({ model, contents: PROMPT, config });
      const fc = r.functionCalls?.[0];
      return fc ? { tool: fc.name ?? '', args: fc.args } : { text: r.text ?? '' };
    }
    let text = '';
    let call: Out | undefined;
    for await (const c of await ai.models.generateContentStream({ model, contents: PROMPT, config })) {
      // Parts read directly: `c.text` warns on chunks that carry a function call.
      for (const p of c.candidates?.[0]?.content?.parts ?? []) text += p.text ?? '';
      const fc = c.functionCalls?.[0];
      if (fc) call = { tool: fc.name ?? '', args: fc.args };
    }
    return call ?? { text };
  },
};

describe('inbound SDK × provider × {JSON, stream} × {text, tool call}', () => {
  for (const [client, run] of Object.entries(clients))
    for (const [type, model] of Object.entries(TARGETS))
      for (const stream of [false, true])
        for (const tool of [false, true])
          it(`${client} → ${type} (${model}), ${stream ? 'stream' : 'JSON'}, ${tool ? 'tool call' : 'text'}`, async () => {
            const out = await run(model, stream, tool);
            if (tool) expect(out).toEqual({ tool: 'weather', args: { city: 'Paris' } });
            else expect(out).toEqual({ text: ANSWER });
          });

  it('every fake was reached (no cell answered by a stand-in)', () => {
    for (const [name, fake] of Object.entries(f) as [string, FakeServer][])
      expect(fake.requests.filter((r) => r.method === 'POST').length, name).toBeGreaterThanOrEqual(12);
  });
});
