import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/store/request-log.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { entry } from './fixtures.js';

const TOKEN = 'admin-token-for-logs-test';
const PER_NODE = 40;

async function startCluster(): Promise<NodeProcess[]> {
  const ports = await freePorts(6);
  const gossip = ports.slice(0, 3);
  const nodes = [0, 1, 2].map((i) =>
    new NodeProcess({
      config: {
        server: {
          host: '127.0.0.1',
          port: ports[3 + i],
          admin_token: TOKEN,
          drain_accept_seconds: 0,
          drain_timeout_seconds: 2,
        },
        cluster_config: {
          enabled: true,
          node_name: `logs-${i + 1}`,
          bind_address: '127.0.0.1',
          peers: gossip.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
          gossip: {
            port: gossip[i],
            timings: { profile: 'local' },
            config: { timeout_seconds: 1, interval_seconds: 0.5, success_threshold: 1, failure_threshold: 2 },
          },
        },
      },
    }).start(),
  );
  await Promise.all(nodes.map((n) => n.waitReady(60_000)));
  await waitFor(
    async () =>
      (await nodes[0]!.status()).cluster_health === 'HEALTHY' && (await nodes[0]!.status()).members === 3,
    {
      timeoutMs: 30_000,
      what: '3 healthy members',
    },
  );
  return nodes;
}

/** Entries interleaved in time across the nodes, some sharing a millisecond (the id breaks the tie). */
function nodeEntries(i: number): RequestLogEntry[] {
  return Array.from({ length: PER_NODE }, (_, k) => {
    const e = entry(k * 3 + i, { node: `logs-${i + 1}` });
    const t = Date.parse(e.time) - (k % 4 === 0 ? (k * 3 + i) * 1000 - k * 3000 : 0); // every 4th: same ms on all three
    return {
      ...e,
      id: `${t.toString(36).padStart(9, '0')}${i}${String(k).padStart(11, '0')}`,
      time: new Date(t).toISOString(),
      request_body: k === 0 ? '{"messages":[]}' : undefined,
    };
  });
}

const byNewest = (a: RequestLogEntry, b: RequestLogEntry) =>
  Date.parse(b.time) - Date.parse(a.time) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

async function getJson(
  url: string,
  token = TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function allPages(
  base: string,
  qs: string,
  limit: number,
): Promise<{ ids: string[]; pages: Record<string, unknown>[] }> {
  const ids: string[] = [];
  const pages: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const { status, body } = await getJson(
      `${base}/api/logs?limit=${limit}${qs}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(status).toBe(200);
    pages.push(body);
    ids.push(...(body.logs as RequestLogEntry[]).map((e) => e.id));
    cursor = body.next_cursor as string | null;
    if (!cursor) break;
  }
  return { ids, pages };
}

describe('GET /api/logs across a 3-node cluster with per-node SQLite', () => {
  let nodes: NodeProcess[] = [];
  const all: RequestLogEntry[] = [];

  beforeAll(async () => {
    nodes = await startCluster();
    // Written beside the running nodes, into each node's own file (WAL allows a second writer).
    for (let i = 0; i < 3; i++) {
      const store = new SqliteRequestLogStore(join(nodes[i]!.dataDir, 'config.db'));
      await store.init();
      const es = nodeEntries(i);
      await store.insert(es);
      await store.close();
      all.push(...es);
    }
    all.sort(byNewest);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('is admin-guarded and validates its query', async () => {
    expect((await getJson(`${nodes[0]!.url}/api/logs`, '')).status).toBe(401);
    expect((await getJson(`${nodes[0]!.url}/api/logs`, 'wrong')).status).toBe(401);
    for (const bad of [
      'limit=0',
      'limit=100000',
      'cursor=%%%',
      'cursor=bm9wZQ',
      'status=abc',
      'since=yesterday',
      'colour=red',
    ]) {
      const r = await getJson(`${nodes[0]!.url}/api/logs?${bad}`);
      expect(r.status, bad).toBe(400);
      expect((r.body.error as { message: string }).message).toMatch(/: /);
    }
  });

  it('any node pages through the whole cluster, newest first, no gaps or repeats', async () => {
    for (const n of nodes) {
      const { ids, pages } = await allPages(n.url, '', 17);
      expect(ids).toEqual(all.map((e) => e.id));
      expect(pages.every((p) => p.partial === undefined)).toBe(true);
    }
    const first = (await getJson(`${nodes[1]!.url}/api/logs?limit=3`)).body.logs as RequestLogEntry[];
    const { request_body: _r, ...want } = all[0]!;
    expect(first[0]).toEqual(want);
  });

  it('filters apply on every node before the merge', async () => {
    const since = Date.parse(all[all.length - 1]!.time) + 20_000;
    const { ids } = await allPages(
      nodes[2]!.url,
      `&provider=openai&status=2xx&since=${new Date(since).toISOString()}`,
      5,
    );
    expect(ids).toEqual(
      all
        .filter((e) => e.provider === 'openai' && e.status < 300 && Date.parse(e.time) >= since)
        .map((e) => e.id),
    );
    const vk = await allPages(nodes[0]!.url, '&virtual_key=team-a&model=gpt-4o-mini', 50);
    expect(vk.ids).toEqual(
      all.filter((e) => e.virtual_key === 'team-a' && e.model === 'gpt-4o-mini').map((e) => e.id),
    );
  });

  it('GET /api/logs/{id} answers from any node, bodies included', async () => {
    const onThird = nodeEntries(2)[0]!;
    const r = await getJson(`${nodes[0]!.url}/api/logs/${onThird.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(onThird);
    expect((await getJson(`${nodes[1]!.url}/api/logs/zzzz0000`)).status).toBe(404);
    expect((await getJson(`${nodes[1]!.url}/api/logs/${encodeURIComponent('../etc')}`)).status).toBe(404);
  });

  it('a killed peer makes the answer partial, naming it, while the others still answer', async () => {
    const dead = nodes[2]!;
    dead.signal('SIGKILL');
    await dead.waitExit(10_000);
    const rest = all.filter((e) => e.node !== 'logs-3').map((e) => e.id);
    // At once (still "alive" in gossip: the connection is refused) and once gossip has it dead.
    for (const phase of ['refused', 'dead']) {
      if (phase === 'dead')
        await waitFor(
          async () => (await nodes[0]!.status()).nodes.some((m) => m.name === 'logs-3' && m.state === 'dead'),
          {
            timeoutMs: 20_000,
            what: 'logs-3 dead',
          },
        );
      const { ids, pages } = await allPages(nodes[0]!.url, '', 30);
      expect(ids, phase).toEqual(rest);
      for (const p of pages) {
        expect(p.partial, phase).toBe(true);
        expect(p.unreachable, phase).toEqual(['logs-3']);
      }
    }
    expect((await getJson(`${nodes[1]!.url}/api/logs/${nodeEntries(0)[5]!.id}`)).status).toBe(200);
  }, 90_000);
});
