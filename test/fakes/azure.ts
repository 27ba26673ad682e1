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

/**
 * Contract fake of Azure OpenAI: classic `/openai/deployments/{d}/…?api-version=`
 * (a known api-version required, the deployment must exist) and the v1 API
 * `/openai/v1/…` (deployment in `model`). The key is checked from `api-key`
 * (or `Authorization: Bearer`, which the v1 API also takes). Streams begin
 * with Azure's prompt_filter_results chunk (`choices: []`), as Azure's do.
 */

export const AZURE_API_VERSIONS = ['2024-06-01', '2024-10-21', '2025-04-01-preview'];

export interface AzureFakeOptions {
  apiKeys?: string[];
  /** Deployment name → model it serves. */
  deployments?: Record<string, string>;
}

function azureError(res: ServerResponse, status: number, code: string, message: string) {
  json(res, status, { error: { code, message } });
}

export async function startAzureFake(opts: AzureFakeOptions = {}): Promise<FakeServer> {
  const keys = new Set(opts.apiKeys ?? ['azure-key-1']);
  const deployments = opts.deployments ?? {
    'my-gpt4o': 'gpt-4o',
    'gpt-4o-mini': 'gpt-4o-mini',
    'emb-small': 'text-embedding-3-small',
  };
  return startFakeServer(async (req, res, fake) => {
    const url = new URL(req.url, 'http://fake');
    const key = (req.headers['api-key'] as string | undefined) ?? bearerOf(req.headers);
    if (!key || !keys.has(key)) {
      return azureError(
        res,
        401,
        '401',
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      );
    }
    const forced = takeFailure(fake);
    if (forced === 429)
      return azureError(
        res,
        429,
        '429',
        'Requests to the ChatCompletions_Create Operation have exceeded call rate limit.',
      );
    if (forced)
      return azureError(
        res,
        forced,
        'InternalServerError',
        'The server had an error while processing your request.',
      );
    const body = req.method === 'POST' ? parseJson(req.body) : {};
    if (!body) return azureError(res, 400, 'BadRequest', 'Invalid JSON body.');
    let deployment: string | undefined;
    let op: string | undefined;
    const classic = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings|completions)$/.exec(
      url.pathname,
    );
    const v1 = /^\/openai\/v1\/(chat\/completions|embeddings|models)$/.exec(url.pathname);
    if (classic) {
      const v = url.searchParams.get('api-version');
      if (!v) return azureError(res, 404, '404', 'Resource not found');
      if (!AZURE_API_VERSIONS.includes(v))
        return azureError(res, 400, 'BadRequest', 'API version not supported');
      deployment = decodeURIComponent(classic[1]!);
      op = classic[2];
    } else if (v1) {
      op = v1[1];
      if (op === 'models') {
        return json(res, 200, {
          object: 'list',
          data: [...new Set(Object.values(deployments))].map((id) => ({
            id,
            object: 'model',
            created: 1700000000,
          })),
        });
      }
      deployment = typeof body.model === 'string' ? body.model : undefined;
    } else if (url.pathname === '/openai/models' && req.method === 'GET') {
      return json(res, 200, {
        data: [...new Set(Object.values(deployments))].map((id) => ({ id, object: 'model' })),
      });
    } else return azureError(res, 404, '404', 'Resource not found');
    const model = deployment ? deployments[deployment] : undefined;
    if (!model) {
      return azureError(
        res,
        404,
        'DeploymentNotFound',
        'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
      );
    }
    if (op === 'embeddings') {
      const input = Array.isArray(body.input) ? body.input : [body.input];
      const dims = typeof body.dimensions === 'number' ? body.dimensions : 1536;
      return json(res, 200, {
        object: 'list',
        model,
        data: input.map((t, index) => ({ object: 'embedding', index, embedding: embed(String(t), dims) })),
        usage: { prompt_tokens: tokensOf(input.join('')), total_tokens: tokensOf(input.join('')) },
      });
    }
    return chat(model, body, res, fake);
  });
}

type Msg = { role?: string; content?: unknown };

async function chat(model: string, body: Record<string, unknown>, res: ServerResponse, fake: FakeServer) {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as Msg[];
  if (messages.length === 0) return azureError(res, 400, 'BadRequest', "'messages' is a required property");
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
  const tc = body.tool_choice as string | { function?: { name: string } } | undefined;
  const toolChoice: BrainInput['toolChoice'] =
    typeof tc === 'object' && tc.function
      ? { name: tc.function.name }
      : tc === 'none'
        ? 'none'
        : tc === 'required'
          ? 'required'
          : 'auto';
  const input: BrainInput = {
    text: parts
      .filter((p) => p.type === 'text')
      .map((p) => p.text)
      .join('\n'),
    images,
    tools,
    toolChoice,
    ...(last.role === 'tool' ? { toolResult: String(last.content) } : {}),
  };
  const out = think(input);
  const prompt_tokens = tokensOf(input.text);
  const outText = out.kind === 'text' ? out.text : JSON.stringify(out.args);
  const usage = {
    prompt_tokens,
    completion_tokens: tokensOf(outText),
    total_tokens: prompt_tokens + tokensOf(outText),
  };
  const filter = {
    hate: { filtered: false, severity: 'safe' },
    violence: { filtered: false, severity: 'safe' },
  };
  const id = 'chatcmpl-azurefake';
  const toolCall =
    out.kind === 'tool'
      ? { id: out.id, type: 'function', function: { name: out.name, arguments: JSON.stringify(out.args) } }
      : undefined;
  if (!body.stream) {
    return json(res, 200, {
      id,
      object: 'chat.completion',
      created: 1700000000,
      model,
      prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }],
      choices: [
        {
          index: 0,
          finish_reason: out.kind === 'text' ? 'stop' : 'tool_calls',
          message: {
            role: 'assistant',
            content: out.kind === 'text' ? out.text : null,
            ...(toolCall && { tool_calls: [toolCall] }),
          },
          content_filter_results: filter,
        },
      ],
      usage,
    });
  }
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model, choices, ...extra })}\n\n`;
  const frames = [
    `data: ${JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }] })}\n\n`,
  ];
  if (toolCall)
    frames.push(
      chunk([
        {
          index: 0,
          delta: { role: 'assistant', tool_calls: [{ index: 0, ...toolCall }] },
          finish_reason: null,
        },
      ]),
    );
  else
    for (const t of pieces(outText))
      frames.push(
        chunk([{ index: 0, delta: { content: t }, finish_reason: null, content_filter_results: filter }]),
      );
  frames.push(chunk([{ index: 0, delta: {}, finish_reason: toolCall ? 'tool_calls' : 'stop' }]));
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage)
    frames.push(chunk([], { usage }));
  frames.push('data: [DONE]\n\n');
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeStream(res, fake, frames);
}
