import { describe, expect, it } from 'vitest';
import { findUsageObject, usageOfJson } from '../../src/gateway/usage.js';
import {
  chatResponseToMessages,
  OpenAIToAnthropicStream,
} from '../../src/providers/translate/anthropic-to-openai.js';
import {
  AnthropicToOpenAIStream,
  messagesResponseToChat,
} from '../../src/providers/translate/openai-to-anthropic.js';
import { SseParser } from '../../src/providers/translate/sse.js';

type Obj = Record<string, unknown>;

const dataLines = (sse: string): Obj[] =>
  sse
    .split('\n\n')
    .filter((b) => b.includes('data: '))
    .map((b) => b.slice(b.indexOf('data: ') + 6))
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as Obj);

describe('SSE parsing', () => {
  it('splits events across arbitrary chunk boundaries and CRLF', () => {
    const p = new SseParser();
    const text = 'event: a\r\ndata: {"x":1}\r\n\r\nevent: b\ndata: {"y":2}\n\ndata: [DONE]\n\n';
    const out = [];
    for (let i = 0; i < text.length; i += 7) out.push(...p.push(text.slice(i, i + 7)));
    expect(out).toEqual([
      { event: 'a', data: '{"x":1}' },
      { event: 'b', data: '{"y":2}' },
      { event: undefined, data: '[DONE]' },
    ]);
  });
});

describe('usage extraction', () => {
  it('skips "usage": null and reads the object', () => {
    const b = Buffer.from(
      '{"a":{"usage": null},"usage" : {"prompt_tokens":3,"completion_tokens":4,"x":{"y":"}"}}}',
    );
    expect(findUsageObject(b)).toBeGreaterThan(0);
    expect(usageOfJson(b)).toEqual({ prompt: 3, completion: 4 });
    expect(
      usageOfJson(Buffer.from('{"usage":{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":7}}')),
    ).toEqual({ prompt: 7, completion: 7 });
    expect(usageOfJson(Buffer.from('{"no":"usage"}'))).toBeUndefined();
  });
});

describe('Anthropic stream → OpenAI chunks', () => {
  it('translates text, tool use, finish reason and usage', () => {
    const tr = new AnthropicToOpenAIStream('anthropic/claude', true);
    const ev = (e: Obj) => tr.event(String(e.type), JSON.stringify(e));
    let out = '';
    out += ev({
      type: 'message_start',
      message: { id: 'msg_1', usage: { input_tokens: 10, output_tokens: 1 } },
    });
    out += ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    out += ev({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'Let me check.' },
    });
    out += ev({ type: 'content_block_stop', index: 0 });
    out += ev({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} },
    });
    out += ev({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"city":' },
    });
    out += ev({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '"Paris"}' },
    });
    out += ev({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } });
    out += ev({ type: 'message_stop' });
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = dataLines(out);
    const deltas = chunks.map((c) => ((c.choices as Obj[])[0]?.delta ?? {}) as Obj);
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Let me check.');
    const tool = deltas.flatMap((d) => (d.tool_calls as Obj[] | undefined) ?? []);
    expect(tool[0]).toMatchObject({
      index: 0,
      id: 'toolu_1',
      type: 'function',
      function: { name: 'get_weather' },
    });
    expect(tool.map((t) => (t.function as Obj).arguments).join('')).toBe('{"city":"Paris"}');
    const finish = chunks.map((c) => (c.choices as Obj[])[0]?.finish_reason).filter(Boolean);
    expect(finish).toEqual(['tool_calls']);
    expect(chunks[chunks.length - 1]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 },
    });
    expect(tr.usage).toEqual({ prompt: 10, completion: 20 });
  });

  it('translates a whole message with tool use', () => {
    const r = messagesResponseToChat(
      {
        id: 'msg_9',
        content: [
          { type: 'text', text: 'ok' },
          { type: 'tool_use', id: 'tu', name: 'f', input: { a: 1 } },
        ],
        stop_reason: 'max_tokens',
        usage: { input_tokens: 1, output_tokens: 2 },
      },
      'anthropic/c',
    );
    expect(r).toMatchObject({
      object: 'chat.completion',
      model: 'anthropic/c',
      choices: [
        {
          message: {
            content: 'ok',
            tool_calls: [{ id: 'tu', function: { name: 'f', arguments: '{"a":1}' } }],
          },
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
  });
});

describe('OpenAI chunks → Anthropic stream', () => {
  it('translates text, tool calls, stop reason and usage into a valid event sequence', () => {
    const tr = new OpenAIToAnthropicStream('openai/gpt');
    const d = (c: Obj) => tr.data(JSON.stringify(c));
    let out = '';
    out += d({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] });
    out += d({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { content: 'Hi' } }] });
    out += d({
      id: 'chatcmpl-1',
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } },
            ],
          },
        },
      ],
    });
    out += d({
      id: 'chatcmpl-1',
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] } }],
    });
    out += d({ id: 'chatcmpl-1', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    out += d({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 4, completion_tokens: 5 } });
    out += tr.data('[DONE]');
    const events = out
      .split('\n\n')
      .filter(Boolean)
      .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)) as Obj);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[4]).toMatchObject({
      index: 1,
      content_block: { type: 'tool_use', id: 'call_1', name: 'f' },
    });
    expect(events[5]).toMatchObject({
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"a":1}' },
    });
    expect(events[7]).toMatchObject({
      delta: { stop_reason: 'tool_use' },
      usage: { input_tokens: 4, output_tokens: 5 },
    });
    expect(tr.end()).toBe('');
  });

  it('translates a whole chat completion', () => {
    const m = chatResponseToMessages(
      {
        id: 'chatcmpl-7',
        choices: [{ message: { content: 'yo' }, finish_reason: 'length' }],
        usage: { prompt_tokens: 2, completion_tokens: 3 },
      },
      'openai/gpt',
    );
    expect(m).toMatchObject({
      id: 'msg_7',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'yo' }],
      stop_reason: 'max_tokens',
      usage: { input_tokens: 2, output_tokens: 3 },
    });
  });
});
