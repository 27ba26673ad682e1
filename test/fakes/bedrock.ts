import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { encodeEvent } from '../../src/providers/bedrock/eventstream.js';
import { bearerOf } from '../support/http-request.js';
import {
  type BrainInput,
  embed,
  type FakeServer,
  imageInfo,
  json,
  type LoggedRequest,
  parseJson,
  pieces,
  startFakeServer,
  takeFailure,
  think,
  tokensOf,
  writeStream,
} from './llm-brain.js';

/**
 * Contract fake of Bedrock Runtime (Converse, ConverseStream in
 * application/vnd.amazon.eventstream framing, InvokeModel for Titan and
 * Cohere embeddings). It verifies what AWS verifies: the SigV4 signature is
 * recomputed from the request and compared, a date more than 5 minutes off
 * is "Signature expired", an unknown access key is refused; Bedrock API keys
 * (Bearer) are checked against the known ones.
 */

/** Credentials the tests start the fake with: long-term, and temporary (with a session token). */
export const FAKE_AWS_KEY = { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' };
export const FAKE_AWS_SESSION_KEY = { ...FAKE_AWS_KEY, accessKeyId: 'AKIDSESSION', sessionToken: 'tok' };

export interface BedrockFakeOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }[];
  apiKeys?: string[];
  region?: string;
}

export interface BedrockFake extends FakeServer {
  /** Authentication failures seen, by AWS error type. */
  authFailures: string[];
}

const MODEL_ID =
  /^(arn:aws:bedrock:|((us|eu|apac|global)\.)?(anthropic|amazon|meta|mistral|cohere|ai21|deepseek)\.)/;
const EMBED_MODELS = /^(amazon\.titan-embed-|cohere\.embed-)/;
const SKEW_MS = 5 * 60_000;
const SHA256 = Hash.bind(null, 'sha256');

export async function startBedrockFake(opts: BedrockFakeOptions = {}): Promise<BedrockFake> {
  const creds = opts.credentials ?? [FAKE_AWS_KEY, FAKE_AWS_SESSION_KEY];
  const apiKeys = new Set(opts.apiKeys ?? ['bedrock-api-key-1']);
  const region = opts.region ?? 'us-east-1';
  const authFailures: string[] = [];
  const fake = (await startFakeServer(async (req, res, f) => {
    const fail = (status: number, type: string, message: string) =>
      json(
        res,
        status,
        { message },
        { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
      );
    const auth = await authenticate(req, creds, apiKeys, region);
    if (auth) {
      authFailures.push(auth.type);
      return fail(auth.status, auth.type, auth.message);
    }
    const forced = takeFailure(f);
    if (forced === 429)
      return fail(429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    if (forced) return fail(forced, 'ServiceUnavailableException', 'Service is unavailable.');
    if (req.method === 'GET' && req.url.split('?')[0] === '/foundation-models') {
      const q = new URLSearchParams(req.url.split('?')[1] ?? '');
      const out = q.get('byOutputModality');
      return json(res, 200, {
        modelSummaries: FOUNDATION_MODELS.filter((fm) => !out || fm.outputModalities.includes(out)).map(
          (fm) => ({
            ...fm,
            modelArn: `arn:aws:bedrock:${region}::foundation-model/${fm.modelId}`,
            responseStreamingSupported: fm.outputModalities.includes('TEXT'),
            inferenceTypesSupported: ['ON_DEMAND'],
            modelLifecycle: { status: 'ACTIVE' },
          }),
        ),
      });
    }
    const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(req.url.split('?')[0]!);
    if (!m || req.method !== 'POST') return fail(404, 'UnknownOperationException', 'Unknown operation');
    const modelId = decodeURIComponent(m[1]!);
    if (!MODEL_ID.test(modelId))
      return fail(400, 'ValidationException', 'The provided model identifier is invalid.');
    const body = parseJson(req.body);
    if (!body)
      return fail(
        400,
        'ValidationException',
        'Malformed input request, please reformat your input and try again.',
      );
    if (m[2] === 'invoke') return invoke(modelId, body, res, fail);
    const parsed = converseInput(body);
    if (typeof parsed === 'string') return fail(400, 'ValidationException', parsed);
    const out = think(parsed);
    const inputTokens = tokensOf(parsed.text + (parsed.system ?? ''));
    if (m[2] === 'converse') {
      const content =
        out.kind === 'text'
          ? [{ text: out.text }]
          : [{ toolUse: { toolUseId: out.id, name: out.name, input: out.args } }];
      const outputTokens = tokensOf(out.kind === 'text' ? out.text : JSON.stringify(out.args));
      return json(
        res,
        200,
        {
          output: { message: { role: 'assistant', content } },
          stopReason: out.kind === 'text' ? 'end_turn' : 'tool_use',
          usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
          metrics: { latencyMs: 1 },
        },
        { 'x-amzn-requestid': 'fake-request-id' },
      );
    }
    const frames: Uint8Array[] = [encodeEvent('messageStart', { role: 'assistant', p: 'abcd' })];
    let outputText: string;
    if (out.kind === 'text') {
      outputText = out.text;
      for (const t of pieces(out.text)) {
        frames.push(
          encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t }, p: 'abcdefgh' }),
        );
      }
    } else {
      outputText = JSON.stringify(out.args);
      frames.push(
        encodeEvent('contentBlockStart', {
          contentBlockIndex: 0,
          start: { toolUse: { toolUseId: out.id, name: out.name } },
          p: 'ab',
        }),
      );
      for (const t of pieces(outputText)) {
        frames.push(
          encodeEvent('contentBlockDelta', {
            contentBlockIndex: 0,
            delta: { toolUse: { input: t } },
            p: 'a',
          }),
        );
      }
    }
    const outputTokens = tokensOf(outputText);
    frames.push(encodeEvent('contentBlockStop', { contentBlockIndex: 0, p: 'abc' }));
    frames.push(
      encodeEvent('messageStop', { stopReason: out.kind === 'text' ? 'end_turn' : 'tool_use', p: 'abcde' }),
    );
    frames.push(
      encodeEvent('metadata', {
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
        metrics: { latencyMs: 1 },
        p: 'abcdef',
      }),
    );
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': 'fake-request-id',
    });
    await writeStream(res, f, frames);
  })) as BedrockFake;
  fake.authFailures = authFailures;
  return fake;
}

type Fail = (status: number, type: string, message: string) => void;

function invoke(modelId: string, body: Record<string, unknown>, res: Parameters<typeof json>[0], fail: Fail) {
  if (!EMBED_MODELS.test(modelId))
    return fail(400, 'ValidationException', 'The fake serves InvokeModel for embeddings only.');
  if (modelId.startsWith('amazon.')) {
    if (typeof body.inputText !== 'string')
      return fail(400, 'ValidationException', 'Malformed input request: required key [inputText] not found');
    const dims = body.dimensions === undefined ? 1024 : body.dimensions;
    if (dims !== 256 && dims !== 512 && dims !== 1024)
      return fail(400, 'ValidationException', 'Malformed input request: dimensions must be 256, 512 or 1024');
    return json(res, 200, {
      embedding: embed(body.inputText, dims),
      inputTextTokenCount: tokensOf(body.inputText),
    });
  }
  const texts = body.texts;
  if (
    !Array.isArray(texts) ||
    texts.length === 0 ||
    texts.length > 96 ||
    !texts.every((t) => typeof t === 'string')
  ) {
    return fail(400, 'ValidationException', 'Malformed input request: texts must be 1-96 strings');
  }
  if (typeof body.input_type !== 'string')
    return fail(400, 'ValidationException', 'Malformed input request: required key [input_type] not found');
  const vectors = texts.map((t: string) => embed(t, 1024));
  const typed = Array.isArray(body.embedding_types);
  return json(res, 200, {
    id: 'fake-embed-id',
    texts,
    embeddings: typed ? { float: vectors } : vectors,
    response_type: typed ? 'embeddings_by_type' : 'embeddings_floats',
  });
}

interface ContentBlock {
  text?: string;
  image?: { format?: string; source?: { bytes?: string } };
  toolResult?: { content?: { text?: string; json?: unknown }[] };
  toolUse?: unknown;
}

function converseInput(body: Record<string, unknown>): BrainInput | string {
  const messages = body.messages as { role?: string; content?: ContentBlock[] }[] | undefined;
  if (!Array.isArray(messages) || messages.length === 0)
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  if (messages[0]!.role !== 'user')
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role !== 'user' && m.role !== 'assistant')
      return `Value at 'messages.${i + 1}.member.role' failed to satisfy constraint`;
    if (!Array.isArray(m.content) || m.content.length === 0)
      return `The content field in the Message object at messages.${i} is empty.`;
    if (i > 0 && messages[i - 1]!.role === m.role)
      return 'A conversation must alternate between user and assistant roles.';
  }
  const inf = body.inferenceConfig as { maxTokens?: unknown } | undefined;
  if (inf?.maxTokens !== undefined && (!Number.isInteger(inf.maxTokens) || (inf.maxTokens as number) < 1)) {
    return "Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1";
  }
  const last = messages[messages.length - 1]!;
  if (last.role !== 'user') return 'A conversation must end with a user message.';
  const texts: string[] = [];
  const images: { mime: string; bytes: number }[] = [];
  let toolResult: string | undefined;
  for (const b of last.content!) {
    if (typeof b.text === 'string') texts.push(b.text);
    else if (b.image) {
      if (!b.image.source?.bytes || !['png', 'jpeg', 'gif', 'webp'].includes(b.image.format ?? ''))
        return 'The image block is malformed.';
      images.push(imageInfo(`image/${b.image.format}`, b.image.source.bytes));
    } else if (b.toolResult) {
      toolResult = (b.toolResult.content ?? []).map((c) => c.text ?? JSON.stringify(c.json)).join('');
    }
  }
  const tc = body.toolConfig as
    | {
        tools?: { toolSpec?: { name: string; inputSchema?: { json?: unknown } } }[];
        toolChoice?: Record<string, { name?: string }>;
      }
    | undefined;
  const tools = (tc?.tools ?? []).flatMap((t) =>
    t.toolSpec ? [{ name: t.toolSpec.name, schema: t.toolSpec.inputSchema?.json }] : [],
  );
  const choice = tc?.toolChoice;
  const toolChoice: BrainInput['toolChoice'] = choice?.tool?.name
    ? { name: choice.tool.name }
    : choice?.any
      ? 'required'
      : 'auto';
  const system = Array.isArray(body.system)
    ? (body.system as { text?: string }[]).map((s) => s.text ?? '').join('\n')
    : undefined;
  return { text: texts.join('\n'), images, tools, toolChoice, toolResult, system };
}

async function authenticate(
  req: LoggedRequest,
  creds: NonNullable<BedrockFakeOptions['credentials']>,
  apiKeys: Set<string>,
  region: string,
): Promise<{ status: number; type: string; message: string } | undefined> {
  const authz = req.headers.authorization;
  if (!authz)
    return {
      status: 403,
      type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  const bearer = bearerOf(req.headers);
  if (bearer !== undefined) {
    return apiKeys.has(bearer)
      ? undefined
      : {
          status: 403,
          type: 'UnrecognizedClientException',
          message: 'Invalid API Key format: Must start with pre-defined prefix',
        };
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      authz,
    );
  if (!m)
    return {
      status: 403,
      type: 'IncompleteSignatureException',
      message: 'Authorization header requires Credential, SignedHeaders and Signature.',
    };
  const [, akid, day, credRegion, service, signedHeaders] = m;
  const cred = creds.find((c) => c.accessKeyId === akid);
  if (!cred)
    return {
      status: 403,
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  if (service !== 'bedrock' || credRegion !== region) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message: `Credential should be scoped to a valid region and service bedrock.`,
    };
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || !amzDate.startsWith(day!))
    return {
      status: 403,
      type: 'IncompleteSignatureException',
      message: 'Date must be in ISO-8601 basic format.',
    };
  const signingDate = new Date(Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +dm[4]!, +dm[5]!, +dm[6]!));
  if (Math.abs(Date.now() - signingDate.getTime()) > SKEW_MS) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message: `Signature expired: ${amzDate} is now earlier than the allowed window (5 min.)`,
    };
  }
  if (cred.sessionToken && req.headers['x-amz-security-token'] !== cred.sessionToken) {
    return {
      status: 403,
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const names = signedHeaders!.split(';');
  if (!names.includes('host'))
    return { status: 403, type: 'InvalidSignatureException', message: "'Host' must be a signed header." };
  const headers: Record<string, string> = {};
  for (const n of names) {
    const v = req.headers[n];
    headers[n] = Array.isArray(v) ? v.join(',') : (v ?? '');
  }
  const [path, qs] = splitUrl(req.url);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(qs)) query[k] = v;
  // Only what the client listed in SignedHeaders is signed: AWS does not require x-amz-content-sha256
  // outside S3, so the recomputation must not add it (smithy's applyChecksum default would).
  const signer = new SignatureV4({
    service: 'bedrock',
    region,
    sha256: SHA256,
    credentials: cred,
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: headers.host!.split(':')[0]!,
      path,
      query,
      headers,
      body: req.body,
    },
    { signingDate },
  );
  if (expected.headers.authorization !== authz) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    };
  }
  return undefined;
}

function splitUrl(url: string): [string, string] {
  const i = url.indexOf('?');
  return i === -1 ? [url, ''] : [url.slice(0, i), url.slice(i + 1)];
}

/** What the fake's control plane lists (ListFoundationModels). */
export const FOUNDATION_MODELS = [
  {
    modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    providerName: 'Anthropic',
    inputModalities: ['TEXT', 'IMAGE'],
    outputModalities: ['TEXT'],
  },
  {
    modelId: 'amazon.nova-lite-v1:0',
    providerName: 'Amazon',
    inputModalities: ['TEXT', 'IMAGE'],
    outputModalities: ['TEXT'],
  },
  {
    modelId: 'amazon.titan-embed-text-v2:0',
    providerName: 'Amazon',
    inputModalities: ['TEXT'],
    outputModalities: ['EMBEDDING'],
  },
];
