import type { Config, ProviderConfig } from '../config/schema.js';
import { BodyScrubber, MIN_SECRET } from './body-scrub.js';

/**
 * Removes every configured provider secret from text that goes to a client
 * or a log: key values, cloud credentials, extra header values, credentials
 * inside a base_url. Upstream error messages quote keys more often than one
 * would think (invalid key messages, HTML error pages, echoed headers).
 */
export function secretScrubber(providers: Config['providers']): BodyScrubber {
  return new BodyScrubber(Object.values(providers).flatMap(providerSecrets));
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
