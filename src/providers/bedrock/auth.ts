import aws4 from 'aws4';
import type { BedrockKeyConfig } from './config.js';

/** What to sign: the request as it goes on the wire (path already percent-encoded once). */
export interface SignableRequest {
  method: string;
  /** Origin, e.g. https://bedrock-runtime.us-east-1.amazonaws.com */
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Produces the auth headers of one Bedrock request (synchronously: it sits before the first byte). */
export interface BedrockAuth {
  headers(req: SignableRequest): Record<string, string>;
}

/** Bedrock API keys: `Authorization: Bearer <value>`. */
export function bearerAuth(token: string): BedrockAuth {
  const h = { authorization: `Bearer ${token}` };
  return { headers: () => h };
}

/**
 * SigV4 (service `bedrock`) with aws4: synchronous node:crypto hashing and a
 * cache of signing keys. @smithy/signature-v4 signs with about ten awaits; on
 * a loaded node each let other requests' microtasks run first: 95 µs of the
 * time to first token against aws4's 57 (docs/benchmarks.md, 2026-12-03).
 * aws4 also signs the Content-Length it computes (the byte length undici
 * sends). The path is signed as sent; aws4 escapes each segment once more,
 * as AWS requires for every service but S3. The contract fake checks each
 * signature with @smithy/signature-v4.
 */
export function sigV4Auth(cfg: {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}): BedrockAuth {
  const credentials = {
    accessKeyId: cfg.accessKeyId,
    secretAccessKey: cfg.secretAccessKey,
    ...(cfg.sessionToken ? { sessionToken: cfg.sessionToken } : {}),
  };
  const hosts = new Map<string, string>();
  const hostOf = (origin: string): string => {
    let h = hosts.get(origin);
    if (h === undefined) {
      h = new URL(origin).host;
      if (hosts.size < 64) hosts.set(origin, h);
    }
    return h;
  };
  return {
    headers(req) {
      const signed = aws4.sign(
        {
          service: 'bedrock',
          region: cfg.region,
          method: req.method,
          host: hostOf(req.origin),
          path: req.path,
          headers: { ...req.headers },
          body: req.body,
        },
        credentials,
      );
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers ?? {})) {
        const lk = k.toLowerCase();
        if (lk === 'authorization' || lk.startsWith('x-amz-')) out[lk] = String(v);
      }
      return out;
    },
  };
}

/** A key's auth: SigV4 when it has an access key, else its `value` as a Bedrock API key. */
export function bedrockAuthFor(value: string | undefined, cfg: BedrockKeyConfig): BedrockAuth {
  if (cfg.access_key) {
    if (!cfg.secret_key) throw new Error('bedrock_key_config.access_key needs secret_key');
    return sigV4Auth({
      accessKeyId: cfg.access_key,
      secretAccessKey: cfg.secret_key,
      sessionToken: cfg.session_token,
      region: cfg.region,
    });
  }
  if (!value)
    throw new Error('a bedrock key needs bedrock_key_config.access_key/secret_key or a value (API key)');
  return bearerAuth(value);
}
