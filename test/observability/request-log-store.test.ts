import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogStore } from '../../src/store/request-log.js';
import { PostgresRequestLogStore } from '../../src/store/request-log-postgres.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';
import { PgServer } from '../store/pg-server.js';
import { entry } from './fixtures.js';

const ENTRIES = Array.from({ length: 30 }, (_, i) => entry(i + 1));
const T0 = Date.parse(ENTRIES[0]!.time);

function contract(name: string, open: () => Promise<RequestLogStore>) {
  describe(name, () => {
    let store: RequestLogStore;
    beforeAll(async () => {
      store = await open();
      await store.insert(ENTRIES.slice(0, 10));
      await store.insert(ENTRIES.slice(10));
      await store.insert(ENTRIES.slice(0, 2)); // duplicates are ignored
    });
    afterAll(async () => {
      await store?.close();
    });

    it('lists newest first, every contract field round-trips, bodies left out', async () => {
      const all = await store.query({ limit: 100 });
      expect(all.map((e) => e.id)).toEqual([...ENTRIES].reverse().map((e) => e.id));
      const { request_body: _a, response_body: _b, ...expected } = ENTRIES[3]!;
      expect(all.find((e) => e.id === ENTRIES[3]!.id)).toEqual(expected);
    });

    it('pages with a (time, id) cursor without gaps or repeats', async () => {
      const seen: string[] = [];
      let before: { timeMs: number; id: string } | undefined;
      for (;;) {
        const page = await store.query({ limit: 7, before });
        seen.push(...page.map((e) => e.id));
        if (page.length < 7) break;
        const last = page[page.length - 1]!;
        before = { timeMs: Date.parse(last.time), id: last.id };
      }
      expect(seen).toEqual([...ENTRIES].reverse().map((e) => e.id));
    });

    it('filters by provider, model, virtual key, status and class, and time range', async () => {
      const ids = async (q: Parameters<RequestLogStore['query']>[0]) =>
        (await store.query(q)).map((e) => e.request_id);
      const want = (f: (i: number) => boolean) =>
        ENTRIES.filter((_, k) => f(k + 1))
          .reverse()
          .map((e) => e.request_id);
      expect(await ids({ limit: 100, provider: 'openai' })).toEqual(want((i) => i % 3 === 0));
      expect(await ids({ limit: 100, model: 'gpt-4o-mini' })).toEqual(want((i) => i % 3 !== 0));
      expect(await ids({ limit: 100, virtual_key: 'team-a' })).toEqual(want((i) => i % 2 === 0));
      expect(await ids({ limit: 100, status: { exact: 502 } })).toEqual(want((i) => i % 5 === 0));
      expect(await ids({ limit: 100, status: { class: 2 } })).toEqual(want((i) => i % 5 !== 0));
      expect(await ids({ limit: 100, since: T0 + 5000, until: T0 + 10_000 })).toEqual(
        want((i) => i >= 6 && i < 11),
      );
    });

    it('gets one entry with its bodies, and prunes by age', async () => {
      const withBody = entry(100, { request_body: '{"a":1}', response_body: '{"b":2}' });
      await store.insert([withBody]);
      expect(await store.get(withBody.id)).toEqual(withBody);
      expect(await store.get('nope')).toBeUndefined();
      expect(await store.prune(T0 + 10_000)).toBe(10);
      expect((await store.query({ limit: 100 })).length).toBe(21);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'dis-rlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
contract('SQLite request log', async () => {
  const s = new SqliteRequestLogStore(join(dir, 'sub', 'config.db'));
  await s.init();
  await s.init(); // idempotent
  return s;
});
contract('SQLite request log, writes on a worker thread', async () => {
  const s = new SqliteRequestLogStore(join(dir, 'threaded', 'config.db'), 'thread');
  await s.init();
  return s;
});

let pgServer: PgServer | undefined;
afterAll(async () => {
  pgServer?.destroy();
});
contract('PostgreSQL request log', async () => {
  pgServer = await new PgServer().init();
  const s = new PostgresRequestLogStore({
    host: '127.0.0.1',
    port: pgServer.port,
    user: pgServer.user,
    password: '',
    database: pgServer.database,
    ssl: 'disable',
  });
  await s.init();
  return s;
});
