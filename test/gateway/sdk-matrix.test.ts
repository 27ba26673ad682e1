import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import { generateObject, generateText, jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayHarness } from '../support/gateway-harness.js';
import { MockUpstream } from '../support/mock-upstream.js';

const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const WEATHER = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
    required: ['city', 'days'],
  },
};

/** Official clients × providers × {JSON, stream} × {text, image, tool call}, plus the Vercel AI SDK and LangChain. */
describe('SDK matrix through the gateway', () => {
  const up = new MockUpstream();
  const h = new GatewayHarness();
  let oa: OpenAI;
  let an: Anthropic;

  beforeAll(async () => {
    await up.start();
    const net = { base_url: up.url, max_retries: 0 };
    await h.start({
      providers: {
        openai: { keys: [{ value: 'sk-matrix' }], network_config: net },
        anthropic: { keys: [{ value: 'ak-matrix' }], network_config: net },
        mock: { type: 'mock' },
      },
    });
    oa = new OpenAI({ baseURL: `${h.base}/v1`, apiKey: 'unused', maxRetries: 0 });
    an = new Anthropic({ baseURL: `${h.base}/anthropic`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await h.stop();
    await up.stop();
  });

  const providers = ['openai/gpt-4o', 'anthropic/claude-3-5-haiku', 'mock/mock-model'];
  const inputs = {
    text: 'Say hello',
    image: [
      { kind: 'text', text: 'What is in this image?' },
      { kind: 'image', url: PIXEL },
    ],
  } as const;

  for (const model of providers)
    for (const stream of [false, true])
      for (const kind of ['text', 'image'] as const) {
        it(`openai chat → ${model}, ${stream ? 'stream' : 'JSON'}, ${kind}`, async () => {
          const content =
            kind === 'text'
              ? inputs.text
              : [
                  { type: 'text' as const, text: 'What is in this image?' },
                  { type: 'image_url' as const, image_url: { url: PIXEL } },
                ];
          if (!stream) {
            const r = await oa.chat.completions.create({ model, messages: [{ role: 'user', content }] });
            expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
            expect(r.usage!.completion_tokens).toBeGreaterThan(0);
          } else {
            const s = await oa.chat.completions.create({
              model,
              stream: true,
              stream_options: { include_usage: true },
              messages: [{ role: 'user', content }],
            });
            let text = '';
            let usage = 0;
            for await (const c of s) {
              text += c.choices[0]?.delta?.content ?? '';
              usage = c.usage?.completion_tokens ?? usage;
            }
            expect(text.length).toBeGreaterThan(0);
            expect(usage).toBeGreaterThan(0);
          }
        });

        it(`openai responses → ${model}, ${stream ? 'stream' : 'JSON'}, ${kind}`, async () => {
          const input =
            kind === 'text'
              ? inputs.text
              : [
                  {
                    role: 'user' as const,
                    content: [
                      { type: 'input_text' as const, text: 'What is in this image?' },
                      { type: 'input_image' as const, image_url: PIXEL, detail: 'auto' as const },
                    ],
                  },
                ];
          if (!stream) {
            const r = await oa.responses.create({ model, input });
            expect(r.output_text.length).toBeGreaterThan(0);
            expect(r.usage!.output_tokens).toBeGreaterThan(0);
          } else {
            const s = await oa.responses.create({ model, input, stream: true });
            let text = '';
            let completed = false;
            for await (const e of s) {
              if (e.type === 'response.output_text.delta') text += e.delta;
              if (e.type === 'response.completed') completed = true;
            }
            expect(text.length).toBeGreaterThan(0);
            expect(completed).toBe(true);
          }
        });

        it(`anthropic messages → ${model}, ${stream ? 'stream' : 'JSON'}, ${kind}`, async () => {
          const content =
            kind === 'text'
              ? inputs.text
              : [
                  { type: 'text' as const, text: 'What is in this image?' },
                  {
                    type: 'image' as const,
                    source: {
                      type: 'base64' as const,
                      media_type: 'image/png' as const,
                      data: PIXEL.split(',')[1]!,
                    },
                  },
                ];
          if (!stream) {
            const r = await an.messages.create({
              model,
              max_tokens: 50,
              messages: [{ role: 'user', content }],
            });
            expect(r.content[0]!.type).toBe('text');
            expect(r.usage.output_tokens).toBeGreaterThan(0);
          } else {
            const s = an.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content }] });
            const final = await s.finalMessage();
            expect(final.content.length).toBeGreaterThan(0);
          }
        });
      }

  for (const stream of [false, true]) {
    it(`tool calls with a forced tool_choice, every inbound format, ${stream ? 'stream' : 'JSON'} (mock)`, async () => {
      const model = 'mock/mock-model';
      if (!stream) {
        const r = await oa.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'weather?' }],
          tools: [{ type: 'function', function: WEATHER }],
          tool_choice: 'required',
        });
        const tc = r.choices[0]!.message.tool_calls![0]!;
        expect(tc.type === 'function' && JSON.parse(tc.function.arguments)).toMatchObject({
          city: expect.any(String),
          days: 1,
        });
        const rr = await oa.responses.create({
          model,
          input: 'weather?',
          tools: [{ type: 'function', ...WEATHER, strict: false }],
          tool_choice: 'required',
        });
        const fc = rr.output.find((o) => o.type === 'function_call');
        expect(fc && fc.type === 'function_call' && JSON.parse(fc.arguments)).toMatchObject({
          city: expect.any(String),
        });
        const ar = await an.messages.create({
          model,
          max_tokens: 50,
          messages: [{ role: 'user', content: 'weather?' }],
          tools: [{ name: WEATHER.name, input_schema: WEATHER.parameters as Anthropic.Tool.InputSchema }],
          tool_choice: { type: 'any' },
        });
        expect(ar.content[0]).toMatchObject({
          type: 'tool_use',
          name: 'get_weather',
          input: { city: expect.any(String) },
        });
      } else {
        const s = await oa.chat.completions.create({
          model,
          stream: true,
          messages: [{ role: 'user', content: 'weather?' }],
          tools: [{ type: 'function', function: WEATHER }],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
        });
        let args = '';
        for await (const c of s) args += c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
        expect(JSON.parse(args)).toMatchObject({ city: expect.any(String) });
        const as = an.messages.stream({
          model,
          max_tokens: 50,
          messages: [{ role: 'user', content: 'weather?' }],
          tools: [{ name: WEATHER.name, input_schema: WEATHER.parameters as Anthropic.Tool.InputSchema }],
          tool_choice: { type: 'tool', name: 'get_weather' },
        });
        const final = await as.finalMessage();
        expect(final.content[0]).toMatchObject({ type: 'tool_use', input: { city: expect.any(String) } });
      }
    });
  }

  it('embeddings honour base64 (the SDK default) and dimensions (mock)', async () => {
    const r = await oa.embeddings.create({ model: 'mock/mock-embed', input: ['a', 'b'], dimensions: 16 });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding).toHaveLength(16);
    const streamed = await h.post('/v1/embeddings', { model: 'mock/mock-embed', input: 'x', stream: true });
    expect(streamed.status).toBe(400);
    expect(((await streamed.json()) as { error: { param: string } }).error.param).toBe('stream');
  });

  it('structured output: json_schema gets JSON valid for the schema (mock, chat and Responses)', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const r = await oa.chat.completions.create({
      model: 'mock/mock-model',
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema, strict: true } },
    });
    expect(JSON.parse(r.choices[0]!.message.content!)).toMatchObject({
      name: expect.any(String),
      age: expect.any(Number),
    });
    const rr = await oa.responses.create({
      model: 'mock/mock-model',
      input: 'x',
      text: { format: { type: 'json_schema', name: 'p', schema, strict: true } },
    });
    expect(JSON.parse(rr.output_text)).toMatchObject({ name: expect.any(String) });
  });

  it('Vercel AI SDK (default openai() = Responses): text, stream, tools, structured output (mock)', async () => {
    const openai = createOpenAI({ baseURL: `${h.base}/v1`, apiKey: 'unused' });
    const model = openai('mock/mock-model');
    const t = await generateText({ model, prompt: 'hello' });
    expect(t.text.length).toBeGreaterThan(0);
    const s = streamText({ model, prompt: 'hello' });
    let streamed = '';
    for await (const d of s.textStream) streamed += d;
    expect(streamed.length).toBeGreaterThan(0);
    const withTool = await generateText({
      model,
      prompt: 'weather?',
      tools: {
        get_weather: tool({
          description: 'weather',
          inputSchema: jsonSchema<{ city: string }>(WEATHER.parameters as never),
        }),
      },
      toolChoice: 'required',
    });
    expect(withTool.toolCalls[0]).toMatchObject({
      toolName: 'get_weather',
      input: { city: expect.any(String) },
    });
    const obj = await generateObject({
      model,
      schema: z.object({ title: z.string(), count: z.number() }),
      prompt: 'x',
    });
    expect(obj.object).toMatchObject({ title: expect.any(String), count: expect.any(Number) });
    const chatModel = openai.chat('mock/mock-model');
    expect((await generateText({ model: chatModel, prompt: 'hi' })).text.length).toBeGreaterThan(0);
  });

  it('LangChain JS: invoke, stream, tools, structured output (mock)', async () => {
    const llm = new ChatOpenAI({
      model: 'mock/mock-model',
      apiKey: 'unused',
      configuration: { baseURL: `${h.base}/v1` },
      maxRetries: 0,
    });
    expect(String((await llm.invoke('hello')).content).length).toBeGreaterThan(0);
    let streamed = '';
    for await (const c of await llm.stream('hello')) streamed += String(c.content);
    expect(streamed.length).toBeGreaterThan(0);
    const withTools = llm.bindTools([{ type: 'function', function: WEATHER }], { tool_choice: 'required' });
    const m = await withTools.invoke('weather?');
    expect(m.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: expect.any(String) } });
    const structured = llm.withStructuredOutput(z.object({ answer: z.string() }));
    expect(await structured.invoke('x')).toMatchObject({ answer: expect.any(String) });
  });
});
