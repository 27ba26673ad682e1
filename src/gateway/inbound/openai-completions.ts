import type { HttpError } from '../../server/errors.js';
import type { CanonicalResponse, CompletionRequest, StreamEvent } from '../canonical.js';
import { OpenAIPassThrough, openaiUsageJson, usageOfOpenAIJson } from './openai-usage.js';
import type { InboundAdapter, StreamEncoder } from './types.js';
import {
  badField,
  fallbacksOf,
  isObj,
  modelOf,
  type Obj,
  optInt,
  optNumber,
  optStop,
  optString,
  streamOf,
} from './validate.js';

function decode(b: Obj, model: string): CompletionRequest {
  const p = b.prompt;
  let prompt: string;
  if (typeof p === 'string') prompt = p;
  else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = p[0];
  else if (Array.isArray(p) && p.every((x) => typeof x === 'string')) prompt = (p as string[]).join('\n');
  else throw badField('prompt', 'must be a string or an array of strings', p);
  const req: CompletionRequest = { op: 'completions', model, prompt, stream: streamOf(b) };
  const mt = optInt(b, 'max_tokens', 1);
  if (mt !== undefined) req.maxTokens = mt;
  const t = optNumber(b, 'temperature');
  if (t !== undefined) req.temperature = t;
  const tp = optNumber(b, 'top_p');
  if (tp !== undefined) req.topP = tp;
  const stop = optStop(b, 'stop');
  if (stop) req.stop = stop;
  const n = optInt(b, 'n', 1);
  if (n !== undefined) req.n = n;
  const seed = optInt(b, 'seed', Number.MIN_SAFE_INTEGER);
  if (seed !== undefined) req.seed = seed;
  const user = optString(b, 'user');
  if (user !== undefined) req.user = user;
  return req;
}

function encode(res: CanonicalResponse, clientModel: string): Obj {
  if (res.op === 'chat') {
    // A provider without /completions answered as a chat.
    return {
      id: `cmpl-${res.id}`,
      object: 'text_completion',
      created: res.created,
      model: clientModel,
      choices: res.choices.map((c) => ({
        index: c.index,
        text: c.message.content.map((p) => (p.type === 'text' ? p.text : '')).join(''),
        logprobs: null,
        finish_reason: c.finishReason,
      })),
      usage: openaiUsageJson(res.usage),
    };
  }
  if (res.op !== 'completions') return {};
  return {
    id: res.id.startsWith('cmpl') ? res.id : `cmpl-${res.id}`,
    object: 'text_completion',
    created: res.created,
    model: clientModel,
    choices: res.choices.map((c) => ({
      index: c.index,
      text: c.text,
      logprobs: null,
      finish_reason: c.finishReason,
    })),
    usage: openaiUsageJson(res.usage),
  };
}

class CompletionStreamEncoder implements StreamEncoder {
  private id = 'cmpl-gateway';
  private created = Math.floor(Date.now() / 1000);
  private usage: Obj | undefined;
  private done = false;

  constructor(
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {}

  private chunk(index: number, text: string, finish: string | null): string {
    return `data: ${JSON.stringify({
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: [{ index, text, logprobs: null, finish_reason: finish }],
    })}\n\n`;
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const e of events) {
      if (this.done) break;
      if (e.type === 'start') {
        this.id = e.id.startsWith('cmpl') ? e.id : `cmpl-${e.id}`;
        this.created = e.created;
      } else if (e.type === 'text') out += this.chunk(e.choice, e.text, null);
      else if (e.type === 'finish') out += this.chunk(e.choice, '', e.reason);
      else if (e.type === 'usage') this.usage = openaiUsageJson(e.usage);
      else if (e.type === 'error') out += this.errorText(e.message, e.code ?? 'upstream_error');
      else if (e.type === 'end') {
        this.done = true;
        if (this.includeUsage && this.usage)
          out += `data: ${JSON.stringify({ id: this.id, object: 'text_completion', created: this.created, model: this.model, choices: [], usage: this.usage })}\n\n`;
        out += 'data: [DONE]\n\n';
      }
    }
    return out;
  }

  /** The error event ends the stream: no [DONE] after it, which clients read as a success. */
  private errorText(message: string, code: string): string {
    this.done = true;
    return `data: ${JSON.stringify({ error: { message, type: 'upstream_error', param: null, code } })}\n\n`;
  }

  error(err: HttpError): string {
    return this.done ? '' : this.errorText(err.message, err.code ?? 'upstream_error');
  }
}

const wantsUsage = (b: Obj) => isObj(b.stream_options) && b.stream_options.include_usage === true;

export const openaiCompletionsInbound: InboundAdapter = {
  format: 'openai.completions',
  op: 'completions',
  target: (input) => ({
    model: modelOf(input.body),
    stream: streamOf(input.body),
    fallbacks: fallbacksOf(input.body),
    maxTokens: optInt(input.body, 'max_tokens', 1),
  }),
  decode: (input, model) => decode(input.body, model),
  passThroughBody(input, model) {
    const b = input.body;
    decode(b, model);
    const out: Obj = { ...b, model };
    delete out.fallbacks;
    if (b.stream === true)
      out.stream_options = { ...(b.stream_options as Obj | undefined), include_usage: true };
    return out;
  },
  encodeResponse: encode,
  streamEncoder: (clientModel, input) => new CompletionStreamEncoder(clientModel, wantsUsage(input.body)),
  usageOfJson: usageOfOpenAIJson,
  passThroughStream: (input) => new OpenAIPassThrough(!wantsUsage(input.body)),
};
