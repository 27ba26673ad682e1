import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { BedrockKeyConfig } from './config.js';

/** Node's native SHA-256, as the AWS SDK signs in Node (the pure-JS one doubled a signature's time). */
const SHA256 = Hash.bind(null, 'sha256');

/** What to sign: the request as it goes on the wire (path already percent-encoded once). */
export interface SignableRequest {
  method: string;
  /** Origin, e.g. https://bedrock-runtime.us-east-1.amazonaws.com */
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Produces the auth headers of one Bedrock request. */
export interface BedrockAuth {
  headers(req: SignableRequest): Promise<Record<string, string>>;
}

/** Bedrock API keys: `Authorization: Bearer <value>`. */
export function bearerAuth(token: string): BedrockAuth {
  const h = { authorization: `Bearer ${token}` };
  return { headers: async () => h };
}

/**
 * SigV4 (service `bedrock`), one signer per key. The path is signed as sent;
 * SignatureV4 escapes it once more, as AWS requires for every service but S3.
 */
export function sigV4Auth(cfg: {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}): BedrockAuth {
  const signer = new SignatureV4({
    service: 'bedrock',
    region: cfg.region,
    sha256: SHA256,
    credentials: {
      accessKeyId: cfg.accessKeyId,
      secretAccessKey: cfg.secretAccessKey,
      sessionToken: cfg.sessionToken,
    },
  });
  return {
    async headers(req) {
      const url = new URL(req.origin);
      const q = req.path.indexOf('?');
      const query: Record<string, string> = {};
      if (q !== -1) for (const [k, v] of new URLSearchParams(req.path.slice(q + 1))) query[k] = v;
      const signed = await signer.sign({
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: q === -1 ? req.path : req.path.slice(0, q),
        query,
        headers: { ...req.headers, host: url.host },
        body: req.body,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) {
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
