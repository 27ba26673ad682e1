/**
 * Which config values are secrets, as one rule over paths, used to mask
 * check-config output, admin API answers and error messages alike
 * (interface.md § Providers: `value`, `secret_key`, `session_token`,
 * `auth_credentials`, `network_config.extra_headers` values and credentials
 * inside a `base_url`; plus the node's own passwords, tokens and keys).
 */

/** A value under a field of one of these names is a secret, whatever its type. */
const SECRET_FIELD_NAMES = new Set([
  'value',
  'secret_key',
  'session_token',
  'auth_credentials',
  'admin_token',
  'password',
  'encryption_key',
  'encryption_keys',
  'consul_token',
  'etcd_password',
  'api_key',
  'token',
  'private_key',
]);

/** Every value inside an object under one of these names is a secret (header values carry keys). */
const SECRET_CONTAINERS = new Set(['extra_headers', 'headers']);

/** URLs whose user-info and query values may hold credentials. */
const URL_FIELD_NAMES = new Set(['base_url', 'endpoint', 'url']);

export const MASK = '********';

function lastName(path: readonly (string | number)[], from = path.length - 1): { name?: string; at: number } {
  for (let i = from; i >= 0; i--) {
    const p = path[i];
    if (typeof p === 'string') return { name: p, at: i };
  }
  return { at: -1 };
}

/** True when the value at `path` is a secret (the whole value is masked). */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  const { name, at } = lastName(path);
  if (name === undefined) return false;
  if (SECRET_FIELD_NAMES.has(name)) return true;
  for (let i = 0; i < at; i++) if (SECRET_CONTAINERS.has(String(path[i]))) return true;
  return false;
}

/** True when the value at `path` is a URL that may embed credentials. */
export function isUrlPath(path: readonly (string | number)[]): boolean {
  const { name } = lastName(path);
  return name !== undefined && URL_FIELD_NAMES.has(name);
}

/**
 * A secret as shown to people: never its start (that is where key prefixes and most of a short key
 * live); long ones keep their last 4 characters so an operator can tell two keys apart.
 */
export function maskSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length < 24) return MASK;
  return `${MASK}${value.slice(-4)}`;
}

/** A URL with its user-info and every query value masked; a string that is no URL is masked whole. */
export function maskUrl(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return MASK; // unparseable: no way to tell credentials from the rest
  }
  if (!u.username && !u.password && !u.search) return value;
  if (u.username) u.username = MASK;
  if (u.password) u.password = MASK;
  for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, MASK);
  return decodeURIComponent(u.toString());
}

/** The value at `path` as it may be shown: secrets masked, URLs stripped of credentials. */
export function maskAt(value: unknown, path: readonly (string | number)[]): unknown {
  if (isSecretPath(path)) {
    return maskEveryLeaf(value);
  }
  if (isUrlPath(path)) return maskUrl(value);
  return maskSecrets(value, [...path]);
}

function maskEveryLeaf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskEveryLeaf);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskEveryLeaf(v)]));
  return maskSecret(value);
}

/**
 * Deep copy with every secret masked: the one function check-config, the
 * admin API (GET /api/providers, virtual keys) and error messages use.
 * `path` is where `value` sits in the config file (e.g. ["providers", "openai"]),
 * so a provider entry alone can be masked with the same rule.
 */
export function maskSecrets<T>(value: T, path: (string | number)[] = []): T {
  if (Array.isArray(value)) return value.map((v, i) => maskAt(v, [...path, i])) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskAt(v, [...path, k]);
    return out as T;
  }
  if (isSecretPath(path)) return maskSecret(value) as T;
  if (isUrlPath(path)) return maskUrl(value) as T;
  return value;
}

/** A provider entry (as stored or as sent to the admin API) with its secrets masked. */
export function maskProviderSecrets<T>(provider: T): T {
  return maskSecrets(provider, ['providers', '_']);
}
