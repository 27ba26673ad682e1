import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { type ConfigStore, StoreConflictError } from '../../src/store/types.js';
import { PgServer } from './pg-server.js';

/** The same suite against both implementations. */
const backends: {
  name: string;
  setup: () => Promise<{ make: () => ConfigStore; reset: () => Promise<void>; teardown: () => void }>;
}[] = [
  {
    name: 'sqlite',
    setup: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dis-sqlite-'));
      let n = 0;
      let path = join(dir, `s${n}.db`);
      return {
        make: () => new SqliteStore(path),
        reset: async () => {
          path = join(dir, `s${++n}.db`);
        },
        teardown: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    setup: async () => {
      const server = await new PgServer().init();
      const make = () =>
        new PostgresStore({
          host: '127.0.0.1',
          port: server.port,
          user: 'postgres',
          password: '',
          database: server.database,
          ssl: 'disable',
        });
      return {
        make,
        reset: async () => {
          await server.query('DROP TABLE IF EXISTS entities, store_meta, usage_counters, schema_migrations');
        },
        teardown: () => server.destroy(),
      };
    },
  },
];

for (const backend of backends) {
  describe(`config store: ${backend.name}`, () => {
    let env: Awaited<ReturnType<(typeof backends)[number]['setup']>>;
    const open: ConfigStore[] = [];
    const fresh = async () => {
      await env.reset();
      const s = env.make();
      open.push(s);
      await s.init();
      return s;
    };

    beforeAll(async () => {
      env = await backend.setup();
    });
    afterAll(async () => {
      for (const s of open) await s.close().catch(() => undefined);
      env?.teardown();
    });

    it('applies every migration once and records it', async () => {
      const s = await fresh();
      expect(await s.migrations()).toEqual(MIGRATIONS.map((m) => m.version));
      // A second process opening the same store finds nothing to do.
      const again = env.make();
      open.push(again);
      await again.init();
      expect(await again.migrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await again.maxVersion()).toBe(0);
    });

    it('creates, reads, updates and deletes with a store-wide version per write', async () => {
      const s = await fresh();
      const a = await s.create('virtual_key', 'team-a', { id: 'team-a', value: 'secret-value-a' });
      const b = await s.create('provider', 'openai', { keys: [] });
      expect(a.version).toBe(1);
      expect(b.version).toBe(2);
      expect(await s.maxVersion()).toBe(2);
      expect((await s.get('virtual_key', 'team-a'))?.data).toEqual({ id: 'team-a', value: 'secret-value-a' });
      expect(await s.get('virtual_key', 'nope')).toBeUndefined();

      await expect(s.create('virtual_key', 'team-a', { id: 'team-a' })).rejects.toBeInstanceOf(
        StoreConflictError,
      );

      const u = await s.update('virtual_key', 'team-a', { id: 'team-a', value: 'secret-value-b' });
      expect(u?.version).toBe(3);
      expect(await s.update('virtual_key', 'missing', {})).toBeUndefined();

      const d = await s.delete('virtual_key', 'team-a');
      expect(d?.version).toBe(4);
      expect(d?.deleted).toBe(true);
      expect(await s.delete('virtual_key', 'team-a')).toBeUndefined();
      expect(await s.get('virtual_key', 'team-a')).toBeUndefined();
      expect((await s.list('virtual_key')).map((r) => r.id)).toEqual([]);
      expect((await s.list('provider')).map((r) => r.id)).toEqual(['openai']);
    });

    it('keeps tombstones in the change feed so a late reader cannot resurrect a deleted key', async () => {
      const s = await fresh();
      await s.create('virtual_key', 'k1', { id: 'k1' });
      const seenAt = await s.maxVersion();
      await s.create('virtual_key', 'k2', { id: 'k2' });
      await s.delete('virtual_key', 'k1');
      const changes = await s.changesSince(seenAt);
      expect(changes.map((c) => [c.id, c.deleted])).toEqual([
        ['k2', false],
        ['k1', true],
      ]);
      expect(changes.map((c) => c.version)).toEqual([2, 3]);
      // Re-creating a deleted id is allowed and gets a new version.
      const again = await s.create('virtual_key', 'k1', { id: 'k1', v: 2 });
      expect(again.version).toBe(4);
      expect((await s.changesSince(3)).map((c) => [c.id, c.deleted])).toEqual([['k1', false]]);
    });

    it('versions stay gap-free and ordered under concurrent writers', async () => {
      const s = await fresh();
      const t = env.make();
      open.push(t);
      await t.init();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? s : t).create('virtual_key', `c${i}`, { id: `c${i}` })),
      );
      const all = await s.changesSince(0);
      expect(all.map((r) => r.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await t.maxVersion()).toBe(20);
    });

    it('applies the config file at every start: creates, updates to match, removes what it dropped', async () => {
      const s = await fresh();
      const mock = { kind: 'provider' as const, id: 'mock', data: { keys: [] } };
      const vk = { kind: 'virtual_key' as const, id: 'a', data: { id: 'a', value: 'v1' } };
      const first = await s.applyFile([mock, vk]);
      expect([first.created.length, first.updated.length, first.unchanged]).toEqual([2, 0, 0]);
      expect((await s.get('provider', 'mock'))?.origin).toBe('file');
      // Same file again: nothing rewritten.
      const v = await s.maxVersion();
      expect((await s.applyFile([mock, vk])).unchanged).toBe(2);
      expect(await s.maxVersion()).toBe(v);
      // Changed value, provider dropped from the file.
      const next = await s.applyFile([{ ...vk, data: { id: 'a', value: 'v2' } }]);
      expect(next.updated.map((e) => e.id)).toEqual(['a']);
      expect(next.removed).toEqual([{ kind: 'provider', id: 'mock' }]);
      expect((await s.get('virtual_key', 'a'))?.data).toEqual({ id: 'a', value: 'v2' });
      expect(await s.list('provider')).toEqual([]);
    });

    it('takes over an admin-API row the file now declares', async () => {
      const s = await fresh();
      await s.create('virtual_key', 'b', { id: 'b', value: 'api' });
      const r = await s.applyFile([{ kind: 'virtual_key', id: 'b', data: { id: 'b', value: 'file' } }]);
      expect(r.updated.map((e) => e.id)).toEqual(['b']);
      const row = await s.get('virtual_key', 'b');
      expect([row?.origin, row?.data?.value]).toEqual(['file', 'file']);
    });

    it('persists usage slots with max-merge and loads them by window', async () => {
      const s = await fresh();
      await s.saveUsage([
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n1', value: 1.5 },
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n2', value: 0.25 },
        { counter: 'vk:a:usd', windowStart: 10, node: 'n1', value: 9 },
      ]);
      // A stale (smaller) save from another node never lowers a slot.
      await s.saveUsage([
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n1', value: 1.0 },
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n2', value: 0.75 },
      ]);
      const rows = (await s.loadUsage(500)).sort((a, b) => a.node.localeCompare(b.node));
      expect(rows).toEqual([
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n1', value: 1.5 },
        { counter: 'vk:a:usd', windowStart: 1000, node: 'n2', value: 0.75 },
      ]);
      expect(await s.pruneUsage(500)).toBe(1);
      expect(await s.loadUsage(0)).toHaveLength(2);
    });
  });
}
