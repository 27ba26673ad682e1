import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sigV4Auth } from '../../src/providers/bedrock/auth.js';
import { type BedrockFake, FAKE_AWS_KEY, FAKE_AWS_SESSION_KEY, startBedrockFake } from '../fakes/bedrock.js';

// The gateway's signer (aws4) against the fake, which recomputes every signature with
// @smithy/signature-v4 from the headers the request lists as signed: two implementations must agree.
let fake: BedrockFake;
const good = FAKE_AWS_KEY;

beforeAll(async () => {
  fake = await startBedrockFake();
});
afterAll(() => fake.close());

async function send(
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  method: 'GET' | 'POST',
  path: string,
  body = '',
) {
  const auth = sigV4Auth({ ...creds, region: 'us-east-1' });
  const headers: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
  Object.assign(headers, auth.headers({ method, origin: fake.url, path, headers, body }));
  const r = await request(fake.url + path, { method, headers, body: method === 'POST' ? body : undefined });
  return { status: r.statusCode, text: await r.body.text() };
}

const converse = (text: string) =>
  JSON.stringify({ messages: [{ role: 'user', content: [{ text }] }], inferenceConfig: { maxTokens: 16 } });
const MODEL_PATH = `/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`;

describe('Bedrock SigV4 signer (aws4), verified by the fake', () => {
  it('signs a Converse call whose model id is percent-encoded in the path and whose body is not ASCII', async () => {
    const r = await send(good, 'POST', MODEL_PATH, converse('héllo 世界 👋'));
    expect(r.status, r.text).toBe(200);
  });

  it('signs with a session token (temporary credentials)', async () => {
    const r = await send(FAKE_AWS_SESSION_KEY, 'POST', MODEL_PATH, converse('hi'));
    expect(r.status, r.text).toBe(200);
  });

  it('signs a GET with a query string (the control plane model list)', async () => {
    const r = await send(good, 'GET', '/foundation-models?byOutputModality=TEXT');
    expect(r.status, r.text).toBe(200);
  });

  it('any text and any model id in the model-id alphabet: both implementations agree (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.stringMatching(/^[a-z0-9][a-z0-9.:-]{0,40}$/),
        async (text, suffix) => {
          const path = `/model/${encodeURIComponent(`anthropic.${suffix}`)}/converse`;
          const r = await send(good, 'POST', path, converse(text));
          expect(r.status, r.text).toBe(200);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 40) },
    );
  });

  it('a wrong secret is refused as the real service refuses it', async () => {
    const r = await send({ ...good, secretAccessKey: 'wrong' }, 'POST', MODEL_PATH, converse('hi'));
    expect(r.status).toBe(403);
    expect(r.text).toContain('signature');
  });
});
