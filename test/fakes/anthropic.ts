import type { ServerResponse } from 'node:http';
import {
  type BrainInput,
  type FakeServer,
  imageInfo,
  json,
  parseJson,
  pieces,
  startFakeServer,
  takeFailure,
  think,
  tokensOf,
  writeStream,
} from './llm-brain.js';

/**
 * Contract fake of the Anthropic Messages API: POST /v1/messages (JSON and
 * SSE, tools, base64 images), /v1/messages/count_tokens and GET /v1/models,
 * with a key (`x-api-key` or bearer) and `anthropic-version` required as the real API requires
 * them. The Messages logic is shared with Vertex's Claude models (rawPredict),
 * which differ only in where the model and version go.
 */

export type Dialect = 'anthropic' | 'vertex';

export const ANTHROPIC_MODELS = ['claude-sonnet-4-20250514', 'claude-3-5-haiku-20241022'];

export async function startAnthropicFake(opts: { apiKeys?: string[] } = {}): Promise<FakeServer> {
  const keys = new Set(opts.apiKeys ?? ['anthropic-key-1']);
  return startFakeServer(async (req, res, fake) => {
    // `x-api-key`, or a bearer token (what @anthropic-ai/sdk 1.x sends for its apiKey).
    const auth = req.headers.authorization;
    const key = req.headers['x-api-key'] ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
    if (typeof key !== 'string' || !keys.has(key))
      return anthropicError(res, 401, 'authentication_error', 'invalid x-api-key');
    if (typeof req.headers['anthropic-version'] !== 'string')
      return anthropicError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const forced = takeFailure(fake);
    if (forced === 429)
      return anthropicError(res, 429, 'rate_limit_error', 'Number of requests has exceeded your rate limit');
    if (forced) return anthropicError(res, forced, 'api_error', 'Internal server error');
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path === '/v1/models')
      return json(res, 200, {
        data: ANTHROPIC_MODELS.map((id) => ({
          type: 'model',
          id,
          display_name: id,
          created_at: '2025-01-01T00:00:00Z',
        })),
        has_more: false,
        first_id: ANTHROPIC_MODELS[0],
        last_id: ANTHROPIC_MODELS.at(-1),
      });
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens'))
      return anthropicError(res, 404, 'not_found_error', 'Not found');
    const body = parseJson(req.body);
    if (!body) return anthropicError(res, 400, 'invalid_request_error', 'request body is not valid JSON');
    if (path === '/v1/messages/count_tokens') {
      const input = anthropicInput('anthropic', { max_tokens: 1, ...body });
      if (typeof input === 'string') return anthropicError(res, 400, 'invalid_request_error', input);
      return json(res, 200, { input_tokens: tokensOf(input.text + (input.system ?? '')) });
    }
    return anthropicMessages('anthropic', String(body.model), body.stream === true, body, res, fake);
  });
}

function anthropicError(res: ServerResponse, status: number, type: string, message: string) {
  json(res, status, { type: 'error', error: { type, message } });
}

interface ABlock {
  type: string;
  text?: string;
  source?: { type?: string; media_type?: string; data?: string };
  content?: unknown;
}

function anthropicInput(dialect: Dialect, body: Record<string, unknown>): BrainInput | string {
  if (dialect === 'vertex') {
    if (body.anthropic_version !== 'vertex-2023-10-16')
      return 'anthropic_version: must be "vertex-2023-10-16"';
    if ('model' in body) return 'model: Extra inputs are not permitted';
  } else {
    if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
    if ('anthropic_version' in body) return 'anthropic_version: Extra inputs are not permitted';
  }
  if (!Number.isInteger(body.max_tokens)) return 'max_tokens: Field required';
  const messages = body.messages as { role?: string; content?: string | ABlock[] }[] | undefined;
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  const last = messages[messages.length - 1]!;
  if (last.role !== 'user') return 'messages: the final message must have role "user"';
  const blocks: ABlock[] =
    typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : (last.content ?? []);
  const texts: string[] = [];
  const images: BrainInput['images'] = [];
  let toolResult: string | undefined;
  for (const b of blocks) {
    if (b.type === 'text') texts.push(b.text ?? '');
    else if (b.type === 'image' && b.source?.type === 'base64')
      images.push(imageInfo(b.source.media_type ?? '', b.source.data ?? ''));
    else if (b.type === 'tool_result')
      toolResult = typeof b.content === 'string' ? b.content : JSON.stringify(b.content);
  }
  const tools = ((body.tools as { name: string; input_schema?: unknown }[]) ?? []).map((t) => ({
    name: t.name,
    schema: t.input_schema,
  }));
  const tc = body.tool_choice as { type?: string; name?: string } | undefined;
  const toolChoice: BrainInput['toolChoice'] =
    tc?.type === 'tool' && tc.name
      ? { name: tc.name }
      : tc?.type === 'any'
        ? 'required'
        : tc?.type === 'none'
          ? 'none'
          : 'auto';
  const system = typeof body.system === 'string' ? body.system : undefined;
  return { text: texts.join('\n'), images, tools, toolChoice, toolResult, system };
}

/** A Messages request (Vertex rawPredict/streamRawPredict, or the direct API's /v1/messages) answered by the brain. */
export async function anthropicMessages(
  dialect: Dialect,
  model: string,
  stream: boolean,
  body: Record<string, unknown>,
  res: ServerResponse,
  fake: FakeServer,
) {
  const input = anthropicInput(dialect, body);
  if (typeof input === 'string') return anthropicError(res, 400, 'invalid_request_error', input);
  const out = think(input);
  const input_tokens = tokensOf(input.text + (input.system ?? ''));
  const outText = out.kind === 'text' ? out.text : JSON.stringify(out.args);
  const output_tokens = tokensOf(outText);
  const stop_reason = out.kind === 'text' ? 'end_turn' : 'tool_use';
  const id = dialect === 'vertex' ? 'msg_vrtx_fake01' : 'msg_fake01';
  if (!stream) {
    const content =
      out.kind === 'text'
        ? [{ type: 'text', text: out.text }]
        : [{ type: 'tool_use', id: out.id, name: out.name, input: out.args }];
    return json(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason,
      stop_sequence: null,
      usage: { input_tokens, output_tokens },
    });
  }
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const frames = [
    ev('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens, output_tokens: 1 },
      },
    }),
    ev('content_block_start', {
      index: 0,
      content_block:
        out.kind === 'text'
          ? { type: 'text', text: '' }
          : { type: 'tool_use', id: out.id, name: out.name, input: {} },
    }),
    ev('ping', {}),
    ...pieces(outText).map((t) =>
      ev('content_block_delta', {
        index: 0,
        delta:
          out.kind === 'text'
            ? { type: 'text_delta', text: t }
            : { type: 'input_json_delta', partial_json: t },
      }),
    ),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens } }),
    ev('message_stop', {}),
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeStream(res, fake, frames);
}
