/**
 * Which config fields are secrets. One list, used to mask check-config output,
 * API responses and error messages alike.
 */
const SECRET_FIELD_NAMES = new Set([
  'value',
  'admin_token',
  'password',
  'encryption_key',
  'encryption_keys',
  'consul_token',
  'etcd_password',
  'api_key',
  'token',
]);

export const MASK = '********';

export function isSecretPath(path: readonly (string | number)[]): boolean {
  for (let i = path.length - 1; i >= 0; i--) {
    const p = path[i];
    if (typeof p === 'string') return SECRET_FIELD_NAMES.has(p);
  }
  return false;
}

/** Shows the first and last characters of long secrets so an operator can tell keys apart. */
export function maskSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) return MASK;
  if (value.length < 16) return MASK;
  return `${value.slice(0, 3)}…${value.slice(-2)}`;
}

/** Deep copy with every secret field masked. */
export function maskSecrets<T>(value: T, path: (string | number)[] = []): T {
  if (Array.isArray(value)) {
    if (isSecretPath(path)) return value.map(maskSecret) as T;
    return value.map((v, i) => maskSecrets(v, [...path, i])) as T;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = [...path, k];
      out[k] = typeof v === 'string' && isSecretPath(p) ? maskSecret(v) : maskSecrets(v, p);
    }
    return out as T;
  }
  return value;
}
