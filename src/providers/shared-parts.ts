import type { ContentPart, ImagePart } from '../gateway/canonical.js';
import { HttpError } from '../server/errors.js';

/** Helpers the cloud providers share (azure, bedrock, gemini, vertex, cohere). */

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function textOf(parts: readonly ContentPart[]): string {
  let s = '';
  for (const p of parts) if (p.type === 'text') s += p.text;
  return s;
}

/** Inline bytes of an image: its base64 data, or a data: URL's. Undefined for a remote URL. */
export function inlineImage(p: ImagePart): { mediaType: string; data: string } | undefined {
  if (p.data !== undefined) return { mediaType: p.mediaType ?? 'image/png', data: p.data };
  const m = p.url ? /^data:([^;,]+);base64,(.*)$/s.exec(p.url) : null;
  return m ? { mediaType: m[1]!, data: m[2]! } : undefined;
}

export function unsupported(provider: string, what: string): HttpError {
  return new HttpError(
    400,
    `provider "${provider}" ${what}`,
    'invalid_request_error',
    'unsupported_operation',
  );
}

/** Tool arguments as an object ({} for anything else): the cloud APIs take objects, not JSON text. */
export function argsObject(s: string): Obj {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}
