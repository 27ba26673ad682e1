/**
 * Scrubs secrets from request and response bodies before they reach the
 * request log: JSON fields whose names say "secret" are masked, and
 * credential-looking strings (bearer tokens, provider API keys) anywhere in
 * the text are replaced, so a key pasted into a prompt is not kept either.
 */

const SECRET_KEY =
  /(^|_|-)(api[_-]?key|authorization|token|secret|password|passwd|credentials?|private[_-]?key|access[_-]?key|session[_-]?token|x-api-key|value)$/i;

const SECRET_TEXT: RegExp[] = [
  /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{12,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{30,}/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

export const SCRUBBED = '[scrubbed]';

function scrubText(s: string): string {
  let out = s;
  for (const re of SECRET_TEXT)
    out = out.replace(re, (_m, p1) => (typeof p1 === 'string' ? `${p1}${SCRUBBED}` : SCRUBBED));
  return out;
}

function scrubValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return scrubText(v);
  if (depth > 32 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v))
    out[k] = SECRET_KEY.test(k) && x !== null && typeof x !== 'object' ? SCRUBBED : scrubValue(x, depth + 1);
  return out;
}

/** The body as stored: secrets scrubbed, at most `maxBytes` UTF-8 bytes (cut bodies end with "…[truncated]"). */
export function scrubBody(body: string, maxBytes: number): string {
  let text: string;
  try {
    text = JSON.stringify(scrubValue(JSON.parse(body), 0));
  } catch {
    text = scrubText(body);
  }
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const cut = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${cut}…[truncated]`;
}
