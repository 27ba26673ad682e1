import { createHash } from 'node:crypto';
import { BUCKETS } from './wire.js';

/**
 * The replica's index for anti-entropy: entity key → version (an HLC, or
 * `file` for an entity this node's config file owns). Bucket hashes are an
 * order-independent XOR of per-entity hashes, so two replicas compare in
 * 64 × 16 bytes and only differing buckets are listed entry by entry.
 */
export class VersionIndex {
  private readonly versions = new Map<string, string>();
  private cached: string[] | undefined;

  static bucketOf(key: string): number {
    return createHash('sha1').update(key).digest()[0]! % BUCKETS;
  }

  get size(): number {
    return this.versions.size;
  }

  get(key: string): string | undefined {
    return this.versions.get(key);
  }

  set(key: string, version: string): void {
    if (this.versions.get(key) === version) return;
    this.versions.set(key, version);
    this.cached = undefined;
  }

  delete(key: string): void {
    if (this.versions.delete(key)) this.cached = undefined;
  }

  clear(): void {
    this.versions.clear();
    this.cached = undefined;
  }

  entries(): IterableIterator<[string, string]> {
    return this.versions.entries();
  }

  /** Hex hash per bucket; file-owned entries are left out (they never travel). */
  buckets(): string[] {
    if (this.cached) return this.cached;
    const acc = Array.from({ length: BUCKETS }, () => Buffer.alloc(16));
    for (const [k, v] of this.versions) {
      if (v === 'file') continue;
      const h = createHash('sha1').update(`${k}\n${v}`).digest();
      // The bucket is chosen by the key, so every version of one key lands in the same bucket.
      const target = acc[VersionIndex.bucketOf(k)]!;
      for (let i = 0; i < 16; i++) target[i]! ^= h[i]!;
    }
    this.cached = acc.map((b) => b.toString('hex'));
    return this.cached;
  }

  /** Entries of the given buckets, file-owned ones included (so peers stop offering them). */
  inBuckets(buckets: Set<number>): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [k, v] of this.versions) if (buckets.has(VersionIndex.bucketOf(k))) out.push([k, v]);
    return out;
  }
}

export function differingBuckets(a: string[], b: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < BUCKETS; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
