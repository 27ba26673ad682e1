import type { ServerResponse } from 'node:http';
import { json } from './llm-brain.js';

/**
 * One page of a list, the way Google and Cohere page: the token is an opaque
 * offset; pages hold at most 2 entries whatever the client asks, so every listing test pages.
 */
export function listPage<T>(
  res: ServerResponse,
  all: readonly T[],
  url: URL,
  tokenParam: string,
  sizeParam: string,
  shape: (page: T[], next: string | undefined) => Record<string, unknown>,
): void {
  const token = url.searchParams.get(tokenParam);
  const start = token ? Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10) : 0;
  if (!Number.isInteger(start) || start < 0 || start > all.length) {
    json(res, 400, { message: `invalid ${tokenParam}` });
    return;
  }
  const asked = Number(url.searchParams.get(sizeParam) ?? '2');
  const size = Math.min(2, Number.isInteger(asked) && asked > 0 ? asked : 2);
  const end = Math.min(all.length, start + size);
  const next = end < all.length ? Buffer.from(String(end)).toString('base64url') : undefined;
  json(res, 200, shape(all.slice(start, end), next));
}
