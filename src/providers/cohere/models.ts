import type { UpstreamClient } from '../http/client.js';
import { fetchPagedList, isRecord, stringsOf } from '../http/paged-list.js';
import type { KeyEntry } from '../provider.js';
import type { Cancel } from '../types.js';

/** The endpoints the gateway serves from Cohere. */
const ENDPOINTS = ['chat', 'embed'] as const;

/** GET /v1/models?endpoint=chat|embed, paged by page_token: the models usable for chat or embeddings. */
export async function listCohereModels(
  http: UpstreamClient,
  origin: string,
  key: KeyEntry,
  signal: Cancel,
): Promise<string[]> {
  const headers: Record<string, string> = key.value ? { authorization: `Bearer ${key.value}` } : {};
  const ids = new Set<string>();
  for (const endpoint of ENDPOINTS) {
    const got = await fetchPagedList(
      http,
      signal,
      (token) =>
        `${origin}/v1/models?endpoint=${endpoint}&page_size=1000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
      () => headers,
      (j) => {
        if (!isRecord(j)) throw new Error('model list is not an object');
        const next = typeof j.next_page_token === 'string' ? j.next_page_token : undefined;
        return { ids: stringsOf(j.models, 'name'), ...(next ? { next } : {}) };
      },
    );
    for (const id of got) ids.add(id);
  }
  return [...ids];
}
