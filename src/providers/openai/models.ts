import type { UpstreamClient } from '../http/client.js';
import type { KeyEntry } from '../provider.js';
import type { Cancel } from '../types.js';

/** GET {root}/models → model ids (bounded: at most 5000). */
export async function listOpenAIModels(
  http: UpstreamClient,
  root: string,
  key: KeyEntry,
  signal: Cancel,
): Promise<string[]> {
  const headers: Record<string, string> = {};
  if (key.value) headers.authorization = `Bearer ${key.value}`;
  const r = await http.send(
    { url: `${root}/models`, method: 'GET', headers, stream: false },
    { signal, timeoutMs: 10_000, requestId: 'model-list' },
  );
  if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`model list answered ${r.status}`);
  const j = JSON.parse(r.body.toString('utf8')) as { data?: unknown };
  if (!Array.isArray(j.data)) throw new Error('model list without data');
  const ids: string[] = [];
  for (const m of j.data) {
    const id = (m as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && id.length > 0 && id.length <= 256) ids.push(id);
    if (ids.length >= 5000) break;
  }
  return ids;
}
