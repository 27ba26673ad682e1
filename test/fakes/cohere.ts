import type { ServerResponse } from 'node:http';
import { bearerOf } from '../support/http-request.js';
import {
  type BrainInput,
  embed,
  type FakeServer,
  json,
  parseJson,
  pieces,
  startFakeServer,
  takeFailure,
  think,
  tokensOf,
  writeStream,
} from './llm-brain.js';
import { listPage } from './paging.js';

/**
 * Contract fake of Cohere v2: /v2/chat (JSON, and SSE with typed events
 * message-start … message-end, then [DONE]) and /v2/embed (embeddings by
 * type; input_type required for v3+ models). Bearer key checked.
 */
export async function startCohereFake(opts: { apiKeys?: string[] } = {}): Promise<FakeServer> {
  const keys = new Set(opts.apiKeys ?? ['cohere-key-1']);
  return startFakeServer(async (req, res, fake) => {
    const token = bearerOf(req.headers);
    if (token === undefined || !keys.has(token)) return json(res, 401, { message: 'invalid api token' });
    const forced = takeFailure(fake);
    if (forced)
      return json(res, forced, {
        message: forced === 429 ? 'trial key rate limit exceeded' : 'internal server error',
      });
    if (req.method === 'GET' && req.url.startsWith('/v1/models')) {
      const url = new URL(req.url, 'http://fake');
      const endpoint = url.searchParams.get('endpoint');
      const models = COHERE_MODELS.filter((m) => !endpoint || m.endpoints.includes(endpoint));
      return listPage(res, models, url, 'page_token', 'page_size', (page, next) => ({
        models: page.map((m) => ({
          name: m.name,
          endpoints: m.endpoints,
          finetuned: false,
          context_length: 128000,
        })),
        ...(next ? { next_page_token: next } : {}),
      }));
    }
    const body = parseJson(req.body);
    if (!body || req.method !== 'POST')
      return json(res, 400, { message: 'invalid request: body must be JSON' });
    if (typeof body.model !== 'string')
      return json(res, 400, { message: 'invalid request: model is required' });
    if (req.url === '/v2/embed') {
      const texts = body.texts;
      if (!Array.isArray(texts) || texts.length > 96)
        return json(res, 400, { message: 'invalid request: texts must be at most 96 strings' });
      if (typeof body.input_type !== 'string')
        return json(res, 400, {
          message: 'invalid request: input_type is required for embed-v3 and newer models',
        });
      const dims = typeof body.output_dimension === 'number' ? body.output_dimension : 1024;
      return json(res, 200, {
        id: 'fake-embed',
        texts,
        embeddings: { float: texts.map((t: string) => embed(t, dims)) },
        meta: { api_version: { version: '2' }, billed_units: { input_tokens: tokensOf(texts.join('')) } },
        response_type: 'embeddings_by_type',
      });
    }
    if (req.url !== '/v2/chat') return json(res, 404, { message: 'not found' });
    return chat(body, res, fake);
  });
}

async function chat(body: Record<string, unknown>, res: ServerResponse, fake: FakeServer) {
  const messages = body.messages as { role: string; content?: unknown }[] | undefined;
  if (!Array.isArray(messages) || messages.length === 0)
    return json(res, 400, { message: 'invalid request: messages must not be empty' });
  const last = messages[messages.length - 1]!;
  const parts =
    typeof last.content === 'string'
      ? [{ type: 'text', text: last.content }]
      : ((last.content ?? []) as { type: string; text?: string; image_url?: { url: string } }[]);
  const images = parts
    .filter((p) => p.type === 'image_url')
    .map((p) => {
      const m = /^data:([^;]+);base64,(.*)$/.exec(p.image_url?.url ?? '');
      return { mime: m?.[1] ?? 'url', bytes: m ? Buffer.from(m[2]!, 'base64').length : 0 };
    });
  const tools = ((body.tools ?? []) as { function: { name: string; parameters?: unknown } }[]).map((t) => ({
    name: t.function.name,
    schema: t.function.parameters,
  }));
  const input: BrainInput = {
    text: parts
      .filter((p) => p.type === 'text')
      .map((p) => p.text)
      .join('\n'),
    images,
    tools,
    toolChoice: body.tool_choice === 'NONE' ? 'none' : body.tool_choice === 'REQUIRED' ? 'required' : 'auto',
    ...(last.role === 'tool' ? { toolResult: String(last.content) } : {}),
  };
  const out = think(input);
  const outText = out.kind === 'text' ? out.text : JSON.stringify(out.args);
  const tokens = { input_tokens: tokensOf(input.text), output_tokens: tokensOf(outText) };
  const usage = { billed_units: tokens, tokens };
  const finish_reason = out.kind === 'text' ? 'COMPLETE' : 'TOOL_CALL';
  const toolCall =
    out.kind === 'tool'
      ? { id: out.id, type: 'function', function: { name: out.name, arguments: outText } }
      : undefined;
  if (!body.stream) {
    return json(res, 200, {
      id: 'fake-chat',
      finish_reason,
      message: {
        role: 'assistant',
        ...(toolCall
          ? { tool_plan: 'I will call the tool.', tool_calls: [toolCall] }
          : { content: [{ type: 'text', text: out.kind === 'text' ? out.text : '' }] }),
      },
      usage,
    });
  }
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const frames = [
    ev('message-start', {
      id: 'fake-chat',
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    }),
  ];
  if (toolCall) {
    frames.push(ev('tool-plan-delta', { delta: { message: { tool_plan: 'I will call the tool.' } } }));
    frames.push(
      ev('tool-call-start', {
        index: 0,
        delta: {
          message: { tool_calls: { ...toolCall, function: { name: toolCall.function.name, arguments: '' } } },
        },
      }),
    );
    for (const t of pieces(outText))
      frames.push(
        ev('tool-call-delta', {
          index: 0,
          delta: { message: { tool_calls: { function: { arguments: t } } } },
        }),
      );
    frames.push(ev('tool-call-end', { index: 0 }));
  } else {
    frames.push(
      ev('content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } }),
    );
    for (const t of pieces(outText))
      frames.push(ev('content-delta', { index: 0, delta: { message: { content: { text: t } } } }));
    frames.push(ev('content-end', { index: 0 }));
  }
  frames.push(ev('message-end', { id: 'fake-chat', delta: { finish_reason, usage } }));
  frames.push('data: [DONE]\n\n');
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeStream(res, fake, frames);
}

/** What the fake's GET /v1/models lists (rerank-only models are not served by the gateway). */
export const COHERE_MODELS = [
  { name: 'command-a-03-2025', endpoints: ['chat', 'generate'] },
  { name: 'command-r-plus', endpoints: ['chat'] },
  { name: 'embed-v4.0', endpoints: ['embed'] },
  { name: 'rerank-v3.5', endpoints: ['rerank'] },
];
