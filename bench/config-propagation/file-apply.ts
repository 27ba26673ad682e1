/**
 * Applying a config file to a node's SQLite store: how long `applyFile` takes for KEYS virtual keys
 * on a file database, three times in a row (creates them, finds them unchanged, updates them all).
 * It runs at start and at every reload of the file, before the change is replicated.
 *
 *   npx tsx bench/config-propagation/file-apply.ts [--keys 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { SeedEntity } from '../../src/store/types.js';

const { values: args } = parseArgs({ options: { keys: { type: 'string', default: '10000' } } });
const n = Number(args.keys);
const dir = mkdtempSync(join(tmpdir(), 'dis-file-apply-'));
const keys = (rev: number): SeedEntity[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'virtual_key' as const,
    id: `vk-${i}`,
    data: { name: `key ${i}`, value: `sk-dis-bench-${i}`, rate_limit: { requests: 100 + rev, window: '1m' } },
  }));
const store = new SqliteStore(join(dir, 'store.db'));
try {
  await store.init();
  for (const [label, rev] of [
    ['first (creates)', 0],
    ['second (unchanged)', 0],
    ['third (all updated)', 1],
  ] as const) {
    const entities = keys(rev);
    const t0 = performance.now();
    const r = await store.applyFile(entities);
    const ms = performance.now() - t0;
    console.log(
      `${label} ${ms.toFixed(0)} ms created=${r.created.length} updated=${r.updated.length} unchanged=${r.unchanged}`,
    );
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
