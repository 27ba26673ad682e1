import type { UpstreamClient } from '../http/client.js';
import { fetchPagedList, isRecord, stringsOf } from '../http/paged-list.js';
import type { Cancel } from '../types.js';

/**
 * Google's publisher models (the Gemini family) from Model Garden:
 * GET {origin}/v1beta1/publishers/google/models, paged by pageToken, with the
 * key's access token (REST reference: publishers.models.list). Claude models
 * on Vertex are not listed there; they come from the key's `models`.
 */
export async function listVertexModels(
  http: UpstreamClient,
  origin: string,
  accessToken: string,
  signal: Cancel,
): Promise<string[]> {
  const headers = { authorization: `Bearer ${accessToken}` };
  return fetchPagedList(
    http,
    signal,
    (token) =>
      `${origin}/v1beta1/publishers/google/models?pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
    () => headers,
    (j) => {
      if (!isRecord(j)) throw new Error('model list is not an object');
      const next = typeof j.nextPageToken === 'string' ? j.nextPageToken : undefined;
      const ids = stringsOf(j.publisherModels ?? [], 'name').map((n) =>
        n.replace(/^publishers\/google\/models\//, ''),
      );
      return { ids, ...(next ? { next } : {}) };
    },
  );
}
