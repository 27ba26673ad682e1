import type { Cancel } from '../types.js';
import type { UpstreamClient } from './client.js';

/** At most this many pages and ids per listing, whatever the upstream says. */
export const MAX_LIST_PAGES = 20;
export const MAX_LISTED_IDS = 5000;

export interface ListPage {
  ids: string[];
  /** Token of the next page; absent or '' on the last one. */
  next?: string;
}

/**
 * Fetches a paged model listing (GET), bounded in pages and ids. `url(token)`
 * builds each page's URL, `headers(url)` its auth (signing needs the URL),
 * `read(json)` its ids and next token; a non-200 or unreadable page throws,
 * so the catalog keeps its last good list.
 */
export async function fetchPagedList(
  http: UpstreamClient,
  signal: Cancel,
  url: (token: string) => string,
  headers: (url: string) => Promise<Record<string, string>> | Record<string, string>,
  read: (json: unknown) => ListPage,
): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let page = 0; page < MAX_LIST_PAGES && out.length < MAX_LISTED_IDS; page++) {
    const u = url(token);
    const r = await http.send(
      { url: u, method: 'GET', headers: await headers(u), stream: false },
      { signal, timeoutMs: 10_000, requestId: 'model-list' },
    );
    if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`model list answered ${r.status}`);
    const got = read(JSON.parse(r.body.toString('utf8')));
    for (const id of got.ids) if (id.length > 0 && id.length <= 256) out.push(id);
    if (!got.next || got.next === token) break;
    token = got.next;
  }
  return out.slice(0, MAX_LISTED_IDS);
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `field` of each object in `arr`, where it is a string. */
export function stringsOf(arr: unknown, field: string): string[] {
  if (!Array.isArray(arr)) throw new Error('model list without its array');
  const out: string[] = [];
  for (const m of arr) if (isRecord(m) && typeof m[field] === 'string') out.push(m[field] as string);
  return out;
}
