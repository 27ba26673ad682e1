import { createHash } from 'node:crypto';
import { compareHlc } from './hlc.js';

/**
 * One replicated entity version: what travels between nodes and what the
 * merge decides on. `data` is null for a tombstone.
 */
export interface EntityVersion {
  kind: string;
  id: string;
  hlc: string;
  deleted: boolean;
  data: Record<string, unknown> | null;
}

export function entityKey(kind: string, id: string): string {
  return `${kind}/${id}`;
}

/**
 * Last writer wins by HLC (node name inside it breaks ties). Two versions
 * with one clock only differ if one was forged; the content digest then
 * decides, so the merge is still a total order and gives the same answer
 * on every node.
 */
export function newer(a: EntityVersion, b: EntityVersion): EntityVersion {
  const c = compareHlc(a.hlc, b.hlc);
  if (c !== 0) return c > 0 ? a : b;
  return contentDigest(a) >= contentDigest(b) ? a : b;
}

/** True when `incoming` should replace `current` (absent counts as oldest). */
export function supersedes(incoming: EntityVersion, current: EntityVersion | undefined): boolean {
  if (!current) return true;
  if (incoming.hlc !== current.hlc) return compareHlc(incoming.hlc, current.hlc) > 0;
  return newer(incoming, current) === incoming && contentDigest(incoming) !== contentDigest(current);
}

/** Merge of two replicas, entity by entity (a state-based CRDT: a LWW map). */
export function mergeReplicas(
  a: ReadonlyMap<string, EntityVersion>,
  b: ReadonlyMap<string, EntityVersion>,
): Map<string, EntityVersion> {
  const out = new Map(a);
  for (const [k, v] of b) {
    const cur = out.get(k);
    out.set(k, cur ? newer(cur, v) : v);
  }
  return out;
}

function contentDigest(e: EntityVersion): string {
  return createHash('sha256')
    .update(`${e.deleted ? 1 : 0}:${stableJson(e.data)}`)
    .digest('hex');
}

/** JSON with object keys sorted, so equal content always serialises the same. */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const keys = Object.keys(v as Record<string, unknown>).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}
