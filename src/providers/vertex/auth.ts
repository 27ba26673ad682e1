import { createSign } from 'node:crypto';
import { request } from 'undici';
import type { ServiceAccount } from './config.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ASSERTION_LIFETIME_S = 3600;
/** Refresh this long before the token expires, so no request carries a token about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
const TOKEN_TIMEOUT_MS = 10_000;

export class TokenError extends Error {
  constructor(
    message: string,
    /** A 5xx, a 429 or a network failure may pass; a refused grant will not. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The signed JWT of the grant (RFC 7523): iss = the account, aud = its own token_uri. */
export function signAssertion(sa: ServiceAccount, nowS: number, scope = CLOUD_PLATFORM_SCOPE): string {
  const header = b64url(
    JSON.stringify({ alg: 'RS256', typ: 'JWT', ...(sa.private_key_id && { kid: sa.private_key_id }) }),
  );
  const claims = b64url(
    JSON.stringify({
      iss: sa.client_email,
      scope,
      aud: sa.token_uri,
      iat: nowS,
      exp: nowS + ASSERTION_LIFETIME_S,
    }),
  );
  const input = `${header}.${claims}`;
  const signature = createSign('RSA-SHA256').update(input).sign(sa.private_key);
  return `${input}.${b64url(signature)}`;
}

interface Cached {
  token: string;
  refreshAt: number;
}

/**
 * OAuth2 access tokens for one service account, minted by the JWT-bearer grant
 * to the account's own `token_uri` (google-auth-library would post to Google's
 * fixed URL). One token is cached until shortly before it expires; concurrent
 * callers share one refresh.
 */
export class ServiceAccountTokenSource {
  private cached?: Cached;
  private inflight?: Promise<string>;
  /** Grants made (tests use it to prove caching). */
  grants = 0;

  constructor(
    private readonly sa: ServiceAccount,
    private readonly now: () => number = Date.now,
  ) {}

  token(): Promise<string> {
    const c = this.cached;
    if (c && this.now() < c.refreshAt) return Promise.resolve(c.token);
    if (!this.inflight) {
      this.inflight = this.mint().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async mint(): Promise<string> {
    this.grants++;
    const started = this.now();
    const assertion = signAssertion(this.sa, Math.floor(started / 1000));
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(this.sa.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: GRANT_TYPE, assertion }).toString(),
        headersTimeout: TOKEN_TIMEOUT_MS,
        bodyTimeout: TOKEN_TIMEOUT_MS,
      });
    } catch (e) {
      throw new TokenError(`token endpoint unreachable: ${(e as Error).message}`, true);
    }
    const text = await readBounded(res.body);
    if (res.statusCode !== 200) {
      const retryable = res.statusCode === 429 || res.statusCode >= 500;
      throw new TokenError(
        `token endpoint answered ${res.statusCode}: ${describeOAuthError(text)}`,
        retryable,
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      throw new TokenError('token endpoint answered non-JSON', true);
    }
    if (typeof body.access_token !== 'string' || body.access_token.length === 0) {
      throw new TokenError('token endpoint answered without access_token', true);
    }
    const lifetimeMs =
      (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
    // A short-lived token is refreshed at 90% of its life rather than never cached.
    const margin = Math.min(REFRESH_MARGIN_MS, lifetimeMs / 10);
    this.cached = { token: body.access_token, refreshAt: started + lifetimeMs - margin };
    return body.access_token;
  }
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > MAX_TOKEN_RESPONSE_BYTES) {
      body.destroy?.();
      throw new TokenError('token endpoint answer too large', true);
    }
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

function describeOAuthError(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    const parts = [j.error, j.error_description].filter((x) => typeof x === 'string');
    if (parts.length > 0) return parts.join(': ').slice(0, 300);
  } catch {}
  return text.slice(0, 200);
}
