import { type createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { bearerOf } from '../support/http-request.js';
import { anthropicMessages } from './anthropic.js';
import { generate, googleError } from './gemini.js';
import {
  embed,
  type FakeServer,
  json,
  parseJson,
  startFakeServer,
  takeFailure,
  tokensOf,
} from './llm-brain.js';
import { listPage } from './paging.js';

/**
 * Contract fake of Vertex AI with its own OAuth2 token endpoint.
 * - POST /token: the JWT-bearer grant (RFC 7523) as Google's endpoint checks
 *   it: RS256 signature against the service account's public key, iss = the
 *   account, aud = this token_uri, the cloud-platform scope, iat/exp sane.
 * - Google publisher models (generateContent, streamGenerateContent, predict
 *   for embeddings) and Anthropic publisher models (rawPredict,
 *   streamRawPredict with `anthropic_version: "vertex-2023-10-16"`), each
 *   requiring a live Bearer access token minted by /token.
 */

export interface VertexFake extends FakeServer {
  /** The service-account key file text this fake trusts. */
  serviceAccountJson: string;
  projectId: string;
  region: string;
  /** Tokens minted by /token, and grants refused. */
  grants: number;
  refusedGrants: string[];
  /** Lifetime of minted tokens, seconds. */
  tokenLifetimeS: number;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export async function startVertexFake(
  opts: { projectId?: string; region?: string } = {},
): Promise<VertexFake> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = 'gateway@fake-project.iam.gserviceaccount.com';
  const tokens = new Map<string, number>();
  let fakeRef: VertexFake;
  const fake = (await startFakeServer(async (req, res, f) => {
    const v = fakeRef;
    const url = new URL(req.url, 'http://fake');
    if (url.pathname === '/token' && req.method === 'POST') {
      const refusal = checkGrant(req.body.toString('utf8'), clientEmail, `${v.url}/token`, publicKey);
      if (refusal) {
        v.refusedGrants.push(refusal);
        return json(res, 400, { error: 'invalid_grant', error_description: refusal });
      }
      v.grants++;
      const token = `ya29.fake-${randomBytes(12).toString('hex')}`;
      tokens.set(token, Date.now() + v.tokenLifetimeS * 1000);
      if (tokens.size > 10_000) tokens.delete(tokens.keys().next().value!);
      return json(res, 200, { access_token: token, expires_in: v.tokenLifetimeS, token_type: 'Bearer' });
    }
    const token = bearerOf(req.headers);
    const expiry = token === undefined ? undefined : tokens.get(token);
    if (expiry === undefined || expiry < Date.now()) {
      return googleError(
        res,
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        'ACCESS_TOKEN_TYPE_UNSUPPORTED',
      );
    }
    if (url.pathname === '/v1beta1/publishers/google/models' && req.method === 'GET') {
      const forcedList = takeFailure(f);
      if (forcedList)
        return googleError(res, forcedList, 'UNAVAILABLE', 'The service is currently unavailable.');
      return listPage(res, PUBLISHER_MODELS, url, 'pageToken', 'pageSize', (page, next) => ({
        publisherModels: page.map((id) => ({ name: `publishers/google/models/${id}`, versionId: '001' })),
        ...(next ? { nextPageToken: next } : {}),
      }));
    }
    const m =
      /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):([A-Za-z]+)$/.exec(
        url.pathname,
      );
    if (!m || req.method !== 'POST')
      return googleError(res, 404, 'NOT_FOUND', 'The requested URL was not found on this server.');
    const [, , project, location, publisher, model, method] = m;
    if (project !== v.projectId)
      return googleError(res, 403, 'PERMISSION_DENIED', `Permission denied on resource project ${project}.`);
    if (location !== v.region)
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        `Location ${location} is not supported for this project.`,
      );
    const forced = takeFailure(f);
    if (forced === 429)
      return googleError(
        res,
        429,
        'RESOURCE_EXHAUSTED',
        'Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model.',
      );
    if (forced) return googleError(res, forced, 'UNAVAILABLE', 'The service is currently unavailable.');
    const body = parseJson(req.body);
    if (!body) return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    if (publisher === 'google') {
      if (method === 'generateContent' || method === 'streamGenerateContent') {
        return generate(
          model!,
          method === 'streamGenerateContent',
          url.searchParams.get('alt') === 'sse',
          body,
          res,
          f,
        );
      }
      if (method === 'predict') return predictEmbeddings(body, res);
      return googleError(res, 400, 'INVALID_ARGUMENT', `Method ${method} is not supported for ${model}.`);
    }
    if (method !== 'rawPredict' && method !== 'streamRawPredict') {
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        `Anthropic models are served by rawPredict and streamRawPredict.`,
      );
    }
    return anthropicMessages('vertex', model!, method === 'streamRawPredict', body, res, f);
  })) as VertexFake;
  fakeRef = fake;
  fake.projectId = opts.projectId ?? 'fake-project';
  fake.region = opts.region ?? 'us-central1';
  fake.grants = 0;
  fake.refusedGrants = [];
  fake.tokenLifetimeS = 3599;
  fake.serviceAccountJson = JSON.stringify({
    type: 'service_account',
    project_id: fake.projectId,
    private_key_id: 'fake-key-id',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: '1234567890',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `${fake.url}/token`,
  });
  return fake;
}

function checkGrant(
  form: string,
  clientEmail: string,
  tokenUri: string,
  publicKey: ReturnType<typeof createPublicKey>,
): string | undefined {
  const p = new URLSearchParams(form);
  if (p.get('grant_type') !== GRANT) return 'Invalid grant_type.';
  const parts = (p.get('assertion') ?? '').split('.');
  if (parts.length !== 3) return 'Invalid JWT.';
  let header: { alg?: string };
  let claims: { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString());
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString());
  } catch {
    return 'Invalid JWT.';
  }
  if (header.alg !== 'RS256') return 'Invalid JWT: alg must be RS256.';
  const ok = verify(
    'RSA-SHA256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    publicKey,
    Buffer.from(parts[2]!, 'base64url'),
  );
  if (!ok) return 'Invalid JWT Signature.';
  if (claims.iss !== clientEmail) return 'Invalid issuer.';
  if (claims.aud !== tokenUri) return 'Invalid JWT: audience is not the token endpoint.';
  if (!claims.scope?.split(' ').includes(SCOPE)) return 'Invalid OAuth scope or ID token audience provided.';
  const now = Date.now() / 1000;
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number')
    return 'Invalid JWT: iat and exp are required.';
  if (claims.exp < now)
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.';
  if (claims.iat > now + 60 || claims.exp - claims.iat > 3600) {
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.';
  }
  return undefined;
}

function predictEmbeddings(body: Record<string, unknown>, res: ServerResponse) {
  const instances = body.instances as { content?: string }[] | undefined;
  if (
    !Array.isArray(instances) ||
    instances.length === 0 ||
    instances.some((i) => typeof i.content !== 'string')
  ) {
    return googleError(res, 400, 'INVALID_ARGUMENT', 'instances must be a non-empty list of {content}');
  }
  const dims = Number(
    (body.parameters as { outputDimensionality?: number } | undefined)?.outputDimensionality ?? 768,
  );
  return json(res, 200, {
    predictions: instances.map((i) => ({
      embeddings: {
        values: embed(i.content!, dims),
        statistics: { token_count: tokensOf(i.content!), truncated: false },
      },
    })),
  });
}

/** Google's publisher models the fake lists (Model Garden, publishers.models.list). */
export const PUBLISHER_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'text-embedding-005'];
