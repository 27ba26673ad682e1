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
 * Every inbound API (OpenAI chat and Responses, Anthropic messages, Gemini) through its official SDK × every
 * provider type (each behind its contract fake) × {JSON, stream} × {text, tool call, image input}, through one
 * in-process node. The fakes share one deterministic brain: the same question gets the same
 * answer everywhere, so every cell checks the exact text and the exact tool arguments.
 */

const PROMPT = 'matrix ünïcode 👋';
const ANSWER = `echo: ${PROMPT}`;
const CITY = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] };
/** A 1×1 PNG; the fakes' brain answers with the mime type and byte count of each image it was given. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const PNG_BYTES = Buffer.from(PNG, 'base64').length;
const IMAGE_ANSWER = `echo: ${PROMPT} [images: image/png ${PNG_BYTES} bytes]`;
type Mode = 'text' | 'tool' | 'image';

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

const clients: Record<string, (model: string, stream: boolean, mode: Mode) => Promise<Out>> = {
  async openai(model, stream, mode) {
    const tool = mode === 'tool';
    const req = {
      model,
      messages: [
        {
          role: 'user' as const,
          content:
            mode === 'image'
              ? [
                  { type: 'text' as const, text: PROMPT },
                  { type: 'image_url' as const, image_url: { url: `data:image/png;base64,${PNG}` } },
                ]
              : PROMPT,
        },
      ],
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
  async responses(model, stream, mode) {
    const req = {
      model,
      input:
        mode === 'image'
          ? [
              {
                role: 'user' as const,
                content: [
                  { type: 'input_text' as const, text: PROMPT },
                  {
                    type: 'input_image' as const,
                    image_url: `data:image/png;base64,${PNG}`,
                    detail: 'auto' as const,
                  },
                ],
              },
            ]
          : PROMPT,
      ...(mode === 'tool'
        ? {
            tools: [{ type: 'function' as const, name: 'weather', parameters: CITY, strict: false }],
            tool_choice: 'required' as const,
          }
        : {}),
    };
    const r = stream ? await oa.responses.stream(req).finalResponse() : await oa.responses.create(req);
    const call = r.output.find((o) => o.type === 'function_call');
    return call && call.type === 'function_call'
      ? { tool: call.name, args: JSON.parse(call.arguments) }
      : { text: r.output_text };
  },
  async anthropic(model, stream, mode) {
    const tool = mode === 'tool';
    const req = {
      model,
      max_tokens: 64,
      messages: [
        {
          role: 'user' as const,
          content:
            mode === 'image'
              ? [
                  { type: 'text' as const, text: PROMPT },
                  {
                    type: 'image' as const,
                    source: { type: 'base64' as const, media_type: 'image/png' as const, data: PNG },
                  },
                ]
              : PROMPT,
        },
      ],
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
  async genai(model, stream, mode) {
    const tool = mode === 'tool';
    const contents =
      mode === 'image'
        ? [{ role: 'user', parts: [{ text: PROMPT }, { inlineData: { mimeType: 'image/png', data: PNG } }] }]
        : PROMPT;
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
      const r = await ai.models.generateContent({ model, contents, config });
      const fc = r.functionCalls?.[0];
      return fc ? { tool: fc.name ?? '', args: fc.args } : { text: r.text ?? '' };
    }
    let text = '';
    let call: Out | undefined;
    for await (const c of await ai.models.generateContentStream({ model, contents, config })) {
      // Parts read directly: `c.text` warns on chunks that carry a function call.
      for (const p of c.candidates?.[0]?.content?.parts ?? []) text += p.text ?? '';
      const fc = c.functionCalls?.[0];
      if (fc) call = { tool: fc.name ?? '', args: fc.args };
    }
    return call ?? { text };
  },
};

describe('inbound SDK × provider × {JSON, stream} × {text, tool call, image input}', () => {
  for (const [client, run] of Object.entries(clients))
    for (const [type, model] of Object.entries(TARGETS))
      for (const stream of [false, true])
        for (const mode of ['text', 'tool', 'image'] as const)
          it(`${client} → ${type} (${model}), ${stream ? 'stream' : 'JSON'}, ${mode}`, async () => {
            const out = await run(model, stream, mode);
            if (mode === 'tool') expect(out).toEqual({ tool: 'weather', args: { city: 'Paris' } });
            else expect(out).toEqual({ text: mode === 'image' ? IMAGE_ANSWER : ANSWER });
          });

  it('every fake was reached (no cell answered by a stand-in)', () => {
    for (const [name, fake] of Object.entries(f) as [string, FakeServer][])
      expect(fake.requests.filter((r) => r.method === 'POST').length, name).toBeGreaterThanOrEqual(24);
  });
});
