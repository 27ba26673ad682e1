import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgServer } from '../store/pg-server.js';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'admin-token-propagation-0123456789';

/** 3 real node processes sharing one PostgreSQL store and gossiping on loopback. */
describe('config propagation across 3 node processes', () => {
  let pg: PgServer;
  const nodes: NodeProcess[] = [];

  const admin = (n: NodeProcess, method: string, path: string, body?: unknown) =>
    fetch(`${n.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5000),
    });

  /** Milliseconds until `check` holds on every node, polled every 10 ms. */
  const timeUntil = async (check: (n: NodeProcess) => Promise<boolean>, on: NodeProcess[]) => {
    const t0 = performance.now();
    await waitFor(async () => (await Promise.all(on.map(check))).every(Boolean), {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    return performance.now() - t0;
  };

  beforeAll(async () => {
    pg = await new PgServer().init();
    const ports = await freePorts(6);
    const gossip = ports.slice(3);
    for (let i = 0; i < 3; i++) {
      nodes.push(
        new NodeProcess({
          config: {
            server: {
              host: '127.0.0.1',
              port: ports[i],
              admin_token: TOKEN,
              drain_accept_seconds: 0,
              drain_timeout_seconds: 2,
            },
            providers: { mock: { keys: [{ name: 'k', value: 'mock-key-123' }] } },
            governance: { virtual_keys: [{ id: 'seed', value: 'vk-seed-0123456789' }] },
            config_store: pg.storeConfig(),
            cluster_config: {
              enabled: true,
              node_name: `prop-${i + 1}`,
              bind_address: '127.0.0.1',
              peers: gossip.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
              gossip: { port: gossip[i], timings: { profile: 'local' } },
            },
          },
        }).start(),
      );
    }
    await Promise.all(nodes.map((n) => n.waitReady(30_000)));
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.members === 3),
      {
        timeoutMs: 20_000,
        what: '3 members on every node',
      },
    );
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    pg?.destroy();
  });

  it('seeds the shared store once and every node serves it', async () => {
    for (const n of nodes) {
      const body = (await (await admin(n, 'GET', '/api/governance/virtual-keys')).json()) as {
        virtual_keys: { id: string }[];
      };
      expect(body.virtual_keys.map((k) => k.id)).toEqual(['seed']);
    }
    const rows = await pg.query(`SELECT count(*)::int AS n FROM entities`);
    expect(rows.rows[0].n).toBe(2);
  });

  it('a change on any node is in effect on every node within 1 s (create, update, delete)', async () => {
    const others = (i: number) => nodes.filter((_, j) => j !== i);
    const created = await admin(nodes[0]!, 'POST', '/api/governance/virtual-keys', {
      id: 'prop',
      value: 'vk-prop-0123456789',
    });
    expect(created.status).toBe(201);
    const tCreate = await timeUntil(
      async (n) => (await admin(n, 'GET', '/api/governance/virtual-keys/prop')).status === 200,
      others(0),
    );

    const upd = await admin(nodes[1]!, 'PUT', '/api/governance/virtual-keys/prop', {
      value: 'vk-prop-0123456789',
      description: 'v2',
    });
    expect(upd.status).toBe(200);
    const tUpdate = await timeUntil(
      async (n) =>
        (
          (await (await admin(n, 'GET', '/api/governance/virtual-keys/prop')).json()) as {
            description?: string;
          }
        ).description === 'v2',
      others(1),
    );

    expect((await admin(nodes[2]!, 'DELETE', '/api/governance/virtual-keys/prop')).status).toBe(204);
    const tDelete = await timeUntil(
      async (n) => (await admin(n, 'GET', '/api/governance/virtual-keys/prop')).status === 404,
      others(2),
    );

    const prov = await admin(nodes[2]!, 'POST', '/api/providers', { name: 'extra', type: 'mock', keys: [] });
    expect(prov.status).toBe(201);
    const tProvider = await timeUntil(
      async (n) => (await admin(n, 'GET', '/api/providers/extra')).status === 200,
      others(2),
    );

    console.log(
      `config propagation (ms): create ${tCreate.toFixed(0)}, update ${tUpdate.toFixed(0)}, delete ${tDelete.toFixed(0)}, provider ${tProvider.toFixed(0)}`,
    );
    for (const t of [tCreate, tUpdate, tDelete, tProvider]) expect(t).toBeLessThan(1000);
  });

  it('concurrent writes on different nodes: no lost update, no resurrection', async () => {
    const writes = nodes.flatMap((n, i) =>
      Array.from({ length: 5 }, (_, j) =>
        admin(n, 'POST', '/api/governance/virtual-keys', {
          id: `c-${i}-${j}`,
          value: `vk-concurrent-${i}-${j}-0123`,
        }),
      ),
    );
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(15).fill(201));
    // Delete a few on another node while the creates are still propagating.
    for (let j = 0; j < 5; j += 2)
      expect(
        (await admin(nodes[(j + 1) % 3]!, 'DELETE', `/api/governance/virtual-keys/c-0-${j}`)).status,
      ).toBe(204);
    const expected = nodes
      .flatMap((_, i) => Array.from({ length: 5 }, (__, j) => `c-${i}-${j}`))
      .filter((id) => !['c-0-0', 'c-0-2', 'c-0-4'].includes(id))
      .sort();
    await timeUntil(async (n) => {
      const body = (await (await admin(n, 'GET', '/api/governance/virtual-keys')).json()) as {
        virtual_keys: { id: string }[];
      };
      const ids = body.virtual_keys
        .map((k) => k.id)
        .filter((id) => id.startsWith('c-'))
        .sort();
      return JSON.stringify(ids) === JSON.stringify(expected);
    }, nodes);
  });
});
