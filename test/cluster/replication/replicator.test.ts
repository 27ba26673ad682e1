import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHlc } from '../../../src/cluster/replication/hlc.js';
import { Replicator } from '../../../src/cluster/replication/replicator.js';
import { CHANNEL_REPLICATION, decodeMessage, encodeMessage } from '../../../src/cluster/replication/wire.js';
import { validateEntity } from '../../../src/governance/entity-schemas.js';
import { createLogger } from '../../../src/observability/logger.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { EntityKind } from '../../../src/store/types.js';
import { waitFor } from '../../support/wait.js';
import { FakeNet } from './fake-cluster.js';

const logger = createLogger({ level: 'silent' });

interface Node {
  name: string;
  store: SqliteStore;
  r: Replicator;
  changes: number;
}

describe('Replicator (in-memory gossip, real SQLite)', () => {
  const open: Node[] = [];
  afterEach(async () => {
    for (const n of open.splice(0)) {
      await n.r.close();
      await n.store.close();
    }
  });

  async function node(
    net: FakeNet,
    name: string,
    opts: {
      store?: SqliteStore;
      now?: () => number;
      retentionMs?: number;
      onUsage?: (rows: unknown[]) => void;
      digestEntriesPerMessage?: number;
    } = {},
  ): Promise<Node> {
    const store = opts.store ?? new SqliteStore(':memory:');
    await store.init();
    const n: Node = { name, store, changes: 0, r: undefined as unknown as Replicator };
    n.r = new Replicator({
      store,
      nodeName: name,
      logger,
      tombstoneRetentionMs: opts.retentionMs,
      now: opts.now,
      validate: validateEntity,
      onChanged: async () => {
        n.changes++;
      },
      onReset: async () => undefined,
      onUsage: opts.onUsage,
      digestEntriesPerMessage: opts.digestEntriesPerMessage,
      antiEntropyIntervalMs: 60_000,
    });
    await n.r.start();
    n.r.attach(net.cluster(name));
    open.push(n);
    return n;
  }

  const write = async (
    n: Node,
    op: 'create' | 'update' | 'delete',
    kind: EntityKind,
    id: string,
    data?: object,
  ) => {
    const hlc = n.r.stamp();
    const row =
      op === 'delete'
        ? await n.store.delete(kind, id, hlc)
        : await n.store[op](kind, id, data as Record<string, unknown>, hlc);
    n.r.onLocalWrite(row!);
  };
  const vk = (id: string, extra: object = {}) => ({ id, value: `vk-${id}-0123456789`, ...extra });
  const live = async (n: Node) =>
    JSON.stringify(
      [...(await n.store.list('virtual_key')), ...(await n.store.list('provider'))].map((r) => [
        r.id,
        r.hlc,
        r.data,
      ]),
    );

  it('a local write reaches every peer; concurrent writes end with one winner everywhere', async () => {
    const net = new FakeNet();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((x) => node(net, x)));
    await write(a!, 'create', 'virtual_key', 'k1', vk('k1'));
    await waitFor(async () => (await c!.store.get('virtual_key', 'k1')) !== undefined, { timeoutMs: 2000 });
    await Promise.all([
      write(a!, 'update', 'virtual_key', 'k1', vk('k1', { allowed_models: ['a/x'] })),
      write(b!, 'update', 'virtual_key', 'k1', vk('k1', { allowed_models: ['b/x'] })),
      write(c!, 'delete', 'virtual_key', 'k1'),
    ]);
    await waitFor(
      async () => {
        const all = await Promise.all(
          [a!, b!, c!].map((n) => n.store.rows([{ kind: 'virtual_key', id: 'k1' }])),
        );
        return all.every((r) => r[0]?.hlc === all[0]![0]?.hlc);
      },
      { timeoutMs: 2000 },
    );
  });

  it('a partition with writes on both sides heals by push/pull; only differing entities travel', async () => {
    const net = new FakeNet();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((x) => node(net, x)));
    for (let i = 0; i < 50; i++) await write(a!, 'create', 'virtual_key', `base${i}`, vk(`base${i}`));
    await waitFor(async () => (await c!.store.list('virtual_key')).length === 50, { timeoutMs: 3000 });
    net.partition([['a'], ['b', 'c']]);
    await write(a!, 'create', 'virtual_key', 'left', vk('left'));
    await write(a!, 'update', 'virtual_key', 'base1', vk('base1', { allowed_models: ['a/1'] }));
    await write(b!, 'create', 'provider', 'right', { type: 'mock', keys: [] });
    await write(c!, 'delete', 'virtual_key', 'base2');
    await write(b!, 'update', 'virtual_key', 'base1', vk('base1', { allowed_models: ['b/1'] }));
    await new Promise((r) => setTimeout(r, 50));
    expect(await live(a!)).not.toBe(await live(b!));
    net.heal();
    const before = net.delivered;
    net.pushPull('a', 'b');
    await waitFor(async () => (await live(a!)) === (await live(b!)), { timeoutMs: 3000 });
    // digests of the differing buckets, their deltas, pulls and acks: not one message per entity (52)
    expect(net.delivered - before).toBeLessThan(30);
    net.pushPull('b', 'c');
    await waitFor(async () => (await live(b!)) === (await live(c!)), { timeoutMs: 3000 });
    expect((await b!.store.get('virtual_key', 'base1'))?.data?.allowed_models).toEqual(['b/1']);
    expect(await a!.store.get('virtual_key', 'base2')).toBeUndefined();
  });

  it('forged or malformed messages never crash the node nor install an invalid entity', async () => {
    const net = new FakeNet();
    const a = await node(net, 'a');
    const forged = (e: unknown[]) => encodeMessage({ t: 'delta', e } as never);
    const now = Date.now();
    const h = (dt = 0) => encodeHlc({ wall: now + dt, counter: 0, node: 'mallory' });
    const bad = [
      Buffer.from('not json'),
      Buffer.alloc(5 * 1024 * 1024, 0x7b),
      forged([{ k: 'virtual_key', id: 'x', v: h(), d: false, data: { id: 'x' } }]), // no value
      forged([
        { k: 'virtual_key', id: 'x', v: h(), d: false, data: { id: 'other', value: 'vk-0123456789abc' } },
      ]),
      forged([
        {
          k: 'virtual_key',
          id: 'x',
          v: h(3_600_000),
          d: false,
          data: { id: 'x', value: 'vk-0123456789abc' },
        },
      ]),
      forged([{ k: 'admin', id: 'x', v: h(), d: false, data: {} }]),
      forged([{ k: 'provider', id: 'NOT VALID', v: h(), d: false, data: { type: 'mock', keys: [] } }]),
      forged([{ k: 'provider', id: 'p', v: 'yesterday', d: false, data: { type: 'mock', keys: [] } }]),
      forged([{ k: 'provider', id: 'p', v: h(), d: true, data: { type: 'mock', keys: [] } }]),
      Buffer.from(JSON.stringify({ t: 'delta', e: Array.from({ length: 10_000 }, () => ({})) })),
      Buffer.from(JSON.stringify({ t: 'pull', want: [['provider', '../../etc']] })),
      Buffer.from(JSON.stringify({ t: 'digest', b: [999], e: [] })),
    ];
    for (const m of bad) net.inject('a', m);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
        ),
        async (bytes) => {
          expect(() => decodeMessage(Buffer.from(bytes))).not.toThrow();
          net.inject('a', Buffer.from(bytes));
        },
      ),
      { numRuns: 300, verbose: 1 },
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.store.versions()).toEqual([]);
    // A valid one still goes in.
    net.inject(
      'a',
      forged([{ k: 'virtual_key', id: 'x', v: h(), d: false, data: { id: 'x', value: 'vk-0123456789abc' } }]),
    );
    await waitFor(async () => (await a.store.get('virtual_key', 'x')) !== undefined, { timeoutMs: 2000 });
    expect(CHANNEL_REPLICATION).toBe(4);
  });

  it('a node catching up also gets the persisted usage (budgets survive a rejoin)', async () => {
    const net = new FakeNet();
    const a = await node(net, 'a');
    const rows = [
      { counter: 'vk:team:usd', windowStart: Date.now() - 1000, node: 'a', value: 12.5 },
      { counter: 'vk:team:usd', windowStart: Date.now() - 1000, node: 'gone', value: 3 },
    ];
    await a.store.saveUsage(rows);
    const got: unknown[] = [];
    const b = await node(net, 'b', { onUsage: (r) => got.push(...r) });
    await waitFor(() => b.r.readiness() === undefined && got.length === 2, { timeoutMs: 3000 });
    expect((await b.store.loadUsage(0)).map((r) => r.value).sort()).toEqual([12.5, 3].sort());
  });

  it("each node's config file wins for what it declares; file-owned entities never travel", async () => {
    const net = new FakeNet();
    const aStore = new SqliteStore(':memory:');
    await aStore.init();
    await aStore.applyFile([{ kind: 'provider', id: 'openai', data: { keys: [] } }]);
    const a = await node(net, 'a', { store: aStore });
    const [b, c] = await Promise.all(['b', 'c'].map((x) => node(net, x)));
    await write(b!, 'create', 'provider', 'openai', { keys: [{ name: 'b', value: 'sk-from-b-0123456789' }] });
    await waitFor(async () => (await c!.store.get('provider', 'openai')) !== undefined, { timeoutMs: 2000 });
    for (let i = 0; i < 3; i++) {
      net.pushPull('a', 'b');
      net.pushPull('a', 'c');
    }
    await new Promise((r) => setTimeout(r, 100));
    const onA = await a.store.get('provider', 'openai');
    expect([onA?.origin, onA?.data]).toEqual(['file', { keys: [] }]);
    // b learnt from a's digest that a owns it: nothing is offered to a again.
    const before = net.delivered;
    net.pushPull('a', 'b');
    await new Promise((r) => setTimeout(r, 100));
    expect(net.delivered - before).toBeLessThanOrEqual(4);
  });

  it('a replica too big for one message is compared and sent in parts', async () => {
    const net = new FakeNet();
    const big = new SqliteStore(':memory:');
    await big.init();
    const hlc = encodeHlc({ wall: Date.now(), counter: 0, node: 'a' });
    await big.applyRemote(
      Array.from({ length: 3000 }, (_, i) => ({
        kind: 'virtual_key' as const,
        id: `k${i}`,
        hlc,
        deleted: false,
        data: vk(`k${i}`),
      })),
    );
    // 3000 versions, at most 500 per digest message: several parts, each answered on its own.
    await node(net, 'a', { store: big, digestEntriesPerMessage: 500 });
    const b = await node(net, 'b', { digestEntriesPerMessage: 500 });
    await waitFor(async () => b.r.readiness() === undefined && (await b.store.versions()).length === 3000, {
      timeoutMs: 20_000,
    });
  }, 30_000);

  it('tombstones are collected after the retention', async () => {
    let now = 1_000_000_000_000;
    const net = new FakeNet();
    const a = await node(net, 'a', { now: () => now, retentionMs: 60_000 });
    await write(a, 'create', 'virtual_key', 'gone', vk('gone'));
    await write(a, 'delete', 'virtual_key', 'gone');
    expect((await a.store.versions()).length).toBe(1);
    now += 61_000;
    expect(await a.store.collectTombstones(now - 60_000)).toEqual([{ kind: 'virtual_key', id: 'gone' }]);
    expect(await a.store.versions()).toEqual([]);
  });

  it('a replica older than the tombstone horizon is not served and is replaced by a peer copy', async () => {
    const dir = await import('node:fs').then((fs) => fs.mkdtempSync('/tmp/dis-repl-'));
    const path = `${dir}/b.db`;
    const net = new FakeNet();
    let now = Date.now();
    // b knew "zombie" and was last in sync long ago; meanwhile a deleted it and collected the tombstone.
    const old = new SqliteStore(path);
    await old.init();
    await old.create(
      'virtual_key',
      'zombie',
      vk('zombie'),
      encodeHlc({ wall: now - 10 * 86_400_000, counter: 0, node: 'b' }),
    );
    await old.setMeta('replica_synced_at', String(now - 9 * 86_400_000));
    await old.close();
    const a = await node(net, 'a', { now: () => now });
    await write(a, 'create', 'virtual_key', 'current', vk('current'));
    const b = await node(net, 'b', { store: new SqliteStore(path), now: () => now });
    expect(b.r.readiness()).toMatch(/tombstone horizon/);
    net.pushPull('a', 'b');
    await waitFor(() => b.r.readiness() === undefined, { timeoutMs: 3000 });
    expect(await b.store.get('virtual_key', 'zombie')).toBeUndefined();
    expect(await b.store.get('virtual_key', 'current')).toBeDefined();
    net.pushPull('a', 'b');
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.store.get('virtual_key', 'zombie')).toBeUndefined();
    now += 1;
    (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  });
});
