import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { RequestLogWriter } from '../../src/observability/request-log.js';
import { SCRUBBED, scrubBody } from '../../src/observability/scrub.js';
import type { RequestLogEntry, RequestLogStore } from '../../src/store/request-log.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';
import { record } from './fixtures.js';

const baseConfig = { enabled: true, retention: '7d', bodies: false, max_body_bytes: 1024, queue_size: 100 };

/** A store that records calls and can be made to fail or stall. */
class RecordingStore implements RequestLogStore {
  readonly kind = 'sqlite' as const;
  batches: RequestLogEntry[][] = [];
  failNext = 0;
  gate: Promise<void> | undefined;
  prunedBefore: number[] = [];
  async init() {}
  async insert(entries: readonly RequestLogEntry[]) {
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    this.batches.push([...entries]);
  }
  async query() {
    return [];
  }
  async get() {
    return undefined;
  }
  async prune(before: number) {
    this.prunedBefore.push(before);
    return 3;
  }
  async close() {}
}

function writer(store: RequestLogStore, over: Partial<typeof baseConfig> = {}, registry = new Registry()) {
  return new RequestLogWriter({
    store,
    config: { ...baseConfig, ...over },
    nodeName: () => 'node-a',
    logger: silentLogger(),
    registry,
    batchSize: 10,
    flushIntervalMs: 10_000,
  });
}

async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('request-log writer', () => {
  it("never writes on the caller's turn; batches in order; maps every contract field", async () => {
    const store = new RecordingStore();
    const w = writer(store);
    const recs = Array.from({ length: 25 }, (_, i) =>
      record({ startedAt: Date.UTC(2026, 11, 1) + i, ttftMs: i === 0 ? 4.44 : undefined }),
    );
    for (const r of recs) w.onRequestEnd(r);
    expect(store.batches.length).toBe(0);
    expect(w.pending).toBe(25);
    await w.flush();
    expect(store.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    const first = store.batches[0]![0]!;
    expect(first).toEqual({
      id: expect.stringMatching(/^[0-9a-z]{25}$/),
      time: '2026-12-01T00:00:00.000Z',
      node: 'node-a',
      request_id: recs[0]!.requestId,
      route: '/v1/chat/completions',
      virtual_key: 'team-a',
      provider: 'mock',
      model: 'gpt-4o-mini',
      status: 200,
      latency_ms: 12.3,
      ttft_ms: 4.4,
      tokens: { prompt: 10, completion: 20 },
      cost: 0.0001,
      attempts: 1,
      fallback_index: 0,
      error: null,
      stream: false,
    });
    const ids = store.batches.flat().map((e) => e.id);
    expect(new Set(ids).size).toBe(25);
    expect([...ids].sort()).toEqual(ids); // time-sortable
  });

  it('a full queue drops and counts instead of growing, also while a write is stuck', async () => {
    const store = new RecordingStore();
    let release!: () => void;
    store.gate = new Promise((r) => (release = r));
    const registry = new Registry();
    const w = writer(store, { queue_size: 50 }, registry);
    for (let i = 0; i < 30; i++) w.onRequestEnd(record());
    const flushing = w.flush(); // takes 10, stalls on the store
    for (let i = 0; i < 100; i++) w.onRequestEnd(record());
    expect(w.pending).toBe(50);
    expect(await metric(registry, 'deepintshield_request_log_dropped_total', { reason: 'queue_full' })).toBe(
      70,
    );
    release();
    store.gate = undefined;
    await flushing;
    await w.flush();
    expect(store.batches.flat().length).toBe(60);
    expect(await metric(registry, 'deepintshield_request_log_written_total')).toBe(60);
  });

  it('a failed batch is retried once, then dropped and counted', async () => {
    const store = new RecordingStore();
    const registry = new Registry();
    const w = writer(store, {}, registry);
    for (let i = 0; i < 5; i++) w.onRequestEnd(record());
    store.failNext = 1;
    await w.flush();
    expect(w.pending).toBe(5);
    await w.flush();
    expect(store.batches.flat().length).toBe(5);
    store.failNext = 2;
    for (let i = 0; i < 5; i++) w.onRequestEnd(record());
    await w.flush();
    await w.flush();
    expect(w.pending).toBe(0);
    expect(
      await metric(registry, 'deepintshield_request_log_dropped_total', { reason: 'write_failed' }),
    ).toBe(5);
    expect(await metric(registry, 'deepintshield_request_log_write_errors_total')).toBe(3);
  });

  it('retention prunes by the configured age; close writes the rest and refuses later records', async () => {
    const store = new RecordingStore();
    const now = Date.UTC(2026, 11, 8);
    const w = new RequestLogWriter({
      store,
      config: { ...baseConfig, retention: '2d' },
      nodeName: () => 'n',
      logger: silentLogger(),
      registry: new Registry(),
      now: () => now,
    });
    expect(await w.prune()).toBe(3);
    expect(store.prunedBefore).toEqual([now - 2 * 86_400_000]);
    w.onRequestEnd(record());
    await w.close();
    expect(store.batches.flat().length).toBe(1);
    w.onRequestEnd(record());
    expect(w.pending).toBe(0);
  });

  it('bodies only when enabled, scrubbed and bounded', async () => {
    const reqBody = JSON.stringify({
      model: 'm',
      api_key: 'sk-live-abcdefghijklmnop',
      messages: [{ role: 'user', content: 'my key is sk-proj-ABCDEFGHIJKLMNOPQRST ok' }],
    });
    const off = writer(new RecordingStore());
    expect(off.toEntry(record({ requestBody: reqBody })).request_body).toBeUndefined();
    const on = writer(new RecordingStore(), { bodies: true, max_body_bytes: 4096 });
    const e = on.toEntry(
      record({ requestBody: reqBody, responseBody: 'Authorization: Bearer abcdefghijklmnopqrstuvwx' }),
    );
    expect(e.request_body).not.toContain('sk-live');
    expect(e.request_body).not.toContain('sk-proj');
    expect(JSON.parse(e.request_body!).api_key).toBe(SCRUBBED);
    expect(e.response_body).toBe(`Authorization: Bearer ${SCRUBBED}`);
  });

  it('writes real batches into SQLite', async () => {
    const store = new SqliteRequestLogStore(':memory:');
    await store.init();
    const w = writer(store);
    for (let i = 0; i < 23; i++) w.onRequestEnd(record({ startedAt: 1_000_000 + i }));
    await w.flush();
    const rows = await store.query({ limit: 100 });
    expect(rows.length).toBe(23);
    expect(rows[0]!.time).toBe(new Date(1_000_022).toISOString());
    await store.close();
  });
});

describe('scrubBody (property)', () => {
  const seed = Date.now() ^ 0x5eed;
  const run = (name: string, prop: fc.IPropertyWithHooks<never> | fc.IProperty<never>) =>
    it(name, () => {
      try {
        fc.assert(prop as fc.IProperty<unknown>, { seed, numRuns: 300 });
      } catch (err) {
        console.error(`scrubBody property failed with seed ${seed}`);
        throw err;
      }
    });

  const secret = fc.stringMatching(/^[A-Za-z0-9_-]{20,40}$/).map((s) => `sk-${s}`);

  run(
    'a provider key anywhere in any JSON body never survives; output is bounded; never throws',
    fc.property(fc.jsonValue(), secret, fc.integer({ min: 16, max: 4096 }), (doc, key, max) => {
      const body = JSON.stringify({ doc, prompt: `use ${key} please`, nested: { api_key: key } });
      const out = scrubBody(body, max);
      expect(out).not.toContain(key);
      expect(Buffer.byteLength(out)).toBeLessThanOrEqual(max + Buffer.byteLength('…[truncated]'));
    }) as never,
  );

  run(
    'arbitrary text (not JSON) never throws and keeps no bearer token',
    fc.property(fc.string({ maxLength: 500 }), secret, (text, key) => {
      const out = scrubBody(`${text} Bearer ${key} ${text}`, 10_000);
      expect(out).not.toContain(key);
    }) as never,
  );
});
