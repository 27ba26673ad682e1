import type { UpstreamClient } from '../http/client.js';
import { fetchPagedList, isRecord, stringsOf } from '../http/paged-list.js';
import type { Cancel } from '../types.js';
import type { BedrockAuth } from './auth.js';

/** The control plane (ListFoundationModels lives there, not on bedrock-runtime). */
export function bedrockControlOrigin(runtimeOrigin: string | undefined, region: string): string {
  if (!runtimeOrigin) return `https://bedrock.${region}.amazonaws.com`;
  // A configured runtime endpoint (VPC endpoint, proxy, test fake) keeps its host, with the runtime label swapped.
  return runtimeOrigin.replace('://bedrock-runtime.', '://bedrock.').replace(/\/+$/, '');
}

/**
 * ListFoundationModels (GET /foundation-models, text output, one page: the
 * API does not page) → model ids, plus the key's deployment aliases. Signed
 * as any Bedrock call (SigV4 service `bedrock`, or a Bedrock API key).
 */
export async function listBedrockModels(
  http: UpstreamClient,
  origin: string,
  auth: BedrockAuth,
  deployments: Record<string, string>,
  signal: Cancel,
): Promise<string[]> {
  const path = '/foundation-models?byOutputModality=TEXT';
  const ids = await fetchPagedList(
    http,
    signal,
    () => origin + path,
    () => auth.headers({ method: 'GET', origin, path, headers: {}, body: '' }),
    (j) => {
      if (!isRecord(j)) throw new Error('model list is not an object');
      return { ids: stringsOf(j.modelSummaries, 'modelId') };
    },
  );
  return [...new Set([...Object.keys(deployments), ...ids])];
}
