import type { Config, ProviderConfig } from '../config/schema.js';

/** Secrets shorter than this are not scrubbed (they would match ordinary words); config keys are far longer. */
export const MIN_SECRET = 6;
export const REDACTED = '[redacted]';

/**
 * Removes every configured provider secret from text that goes to a client
 * or a log: key values, cloud credentials, extra header values, credentials
 * inside a base_url. Upstream error messages quote keys more often than one
 * would think (invalid key messages, HTML error pages, echoed headers).
 */
export class SecretScrubber {
  private readonly secrets: string[];

  constructor(providers: Config['providers']) {
    const set = new Set<string>();
    for (const p of Object.values(providers)) for (const v of providerSecrets(p)) set.add(v);
    // Longest first, so that a secret containing another is replaced whole.
    this.secrets = [...set].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  /** Whether `text` contains any secret (for tests and assertions). */
  leaks(text: string): boolean {
    return this.secrets.some((s) => text.includes(s));
  }
}

/**
 * What the gateway sends one provider's upstream that the client must never
 * see: key values, cloud credentials, extra header values, credentials
 * inside its base_url, with the percent-encoded forms an upstream may echo.
 */
export function providerSecrets(p: ProviderConfig): string[] {
  const set = new Set<string>();
  const add = (v: string | undefined) => {
    if (!v || v.length < MIN_SECRET) return;
    set.add(v);
    const enc = encodeURIComponent(v);
    if (enc !== v) set.add(enc);
  };
  for (const k of p.keys) {
    add(k.value);
    add(k.bedrock_key_config?.secret_key);
    add(k.bedrock_key_config?.session_token);
    add(k.bedrock_key_config?.access_key);
    const sa = k.vertex_key_config?.auth_credentials;
    if (sa) {
      add(sa);
      try {
        const j = JSON.parse(sa) as { private_key?: unknown; private_key_id?: unknown };
        if (typeof j.private_key === 'string') add(j.private_key);
        if (typeof j.private_key_id === 'string') add(j.private_key_id);
      } catch {
        /* not JSON: the whole text is scrubbed */
      }
    }
  }
  for (const v of Object.values(p.network_config.extra_headers)) add(v);
  const base = p.network_config.base_url;
  if (base) {
    try {
      const u = new URL(base);
      add(decodeURIComponent(u.password));
      add(decodeURIComponent(u.username));
    } catch {
      /* validated by the schema */
    }
  }
  return [...set];
}
