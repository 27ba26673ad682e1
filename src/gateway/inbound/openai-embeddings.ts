import { HttpError } from '../../server/errors.js';
import type { CanonicalResponse, EmbeddingsRequest } from '../canonical.js';
import { OpenAIPassThrough, openaiUsageJson, usageOfOpenAIJson } from './openai-usage.js';
import type { InboundAdapter, StreamEncoder } from './types.js';
import { badField, fallbacksOf, modelOf, type Obj, optInt, optString } from './validate.js';

const MAX_INPUTS = 2048;

function decode(b: Obj, model: string): EmbeddingsRequest {
  const raw = b.input;
  let input: string[];
  if (typeof raw === 'string') input = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.length <= MAX_INPUTS) {
    input = raw.map((x, i) => {
      if (typeof x === 'string') return x;
      // Token-id inputs (numbers or arrays of numbers) are carried as their text.
      if (typeof x === 'number' || (Array.isArray(x) && x.every((n) => typeof n === 'number')))
        return JSON.stringify(x);
      throw badField(`input[${i}]`, 'must be a string or an array of token ids', x);
    });
  } else throw badField('input', `must be a string or an array of 1-${MAX_INPUTS} strings`, raw);
  const req: EmbeddingsRequest = { op: 'embeddings', model, input };
  const dims = optInt(b, 'dimensions', 1);
  if (dims !== undefined) req.dimensions = dims;
  const ef = optString(b, 'encoding_format');
  if (ef !== undefined) {
    if (ef !== 'float' && ef !== 'base64') throw badField('encoding_format', 'must be float or base64', ef);
    req.encodingFormat = ef;
  }
  const user = optString(b, 'user');
  if (user !== undefined) req.user = user;
  return req;
}

function vectorBase64(v: number[]): string {
  const f = new Float32Array(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function encode(res: CanonicalResponse, clientModel: string, base64: boolean): Obj {
  if (res.op !== 'embeddings') return {};
  return {
    object: 'list',
    data: res.vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? vectorBase64(v) : v,
    })),
    model: clientModel,
    usage: {
      prompt_tokens: res.usage?.inputTokens ?? 0,
      total_tokens: openaiUsageJson(res.usage).total_tokens,
    },
  };
}

const noStream: StreamEncoder = { events: () => '', error: () => '' };

export const openaiEmbeddingsInbound: InboundAdapter = {
  format: 'openai.embeddings',
  op: 'embeddings',
  target(input) {
    if (input.body.stream === true)
      throw new HttpError(
        400,
        'stream: embeddings cannot be streamed',
        'invalid_request_error',
        'invalid_request',
        {},
        'stream',
      );
    return { model: modelOf(input.body), stream: false, fallbacks: fallbacksOf(input.body) };
  },
  decode: (input, model) => decode(input.body, model),
  passThroughBody(input, model) {
    decode(input.body, model);
    const out: Obj = { ...input.body, model };
    delete out.fallbacks;
    return out;
  },
  encodeResponse: (res, clientModel, input) =>
    encode(res, clientModel, input.body.encoding_format === 'base64'),
  streamEncoder: () => noStream,
  usageOfJson: usageOfOpenAIJson,
  passThroughStream: () => new OpenAIPassThrough(false),
};
