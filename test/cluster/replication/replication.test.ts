import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeProcess } from '../../support/node-process.js';
import { freePorts } from '../../support/ports.js';
import { admin, converged, replicaNode, startReplicas, timeUntil, vkBody, vkOn } from './harness.js';

/** 3 real node processes, each with its own SQLite replica, gossiping on loopback; no shared database. */
describe('replicated config across 3 node processes (SQLite each)', () => {
  const nodes: NodeProcess[] = [];
  let ports: number[] = [];

  beforeAll(async () => {
    ports = await freePorts(8);
    await startReplicas(nodes, ports.slice(0, 3), ports.slice(4, 7));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('create, update and delete on different nodes are in effect everywhere within 1 s', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    expect((await admin(a, 'POST', '/api/governance/virtual-keys', vkBody('alpha'))).status).toBe(201);
    const created = await timeUntil(nodes, async (n) => (await vkOn(n, 'alpha')) !== undefined);

    const upd = await admin(
      b,
      'PUT',
      '/api/governance/virtual-keys/alpha',
      vkBody('alpha', { allowed_models: ['mock/x'] }),
    );
    expect(upd.status).toBe(200);
    const updated = await timeUntil(nodes, async (n) => {
      const vk = await vkOn(n, 'alpha');
      return JSON.stringify(vk?.allowed_models) === '["mock/x"]';
    });

    const prov = { name: 'extra', type: 'mock', keys: [{ name: 'p', value: 'secret-provider-key-123456' }] };
    expect((await admin(c, 'POST', '/api/providers', prov)).status).toBe(201);
    const provided = await timeUntil(
      nodes,
      async (n) => (await admin(n, 'GET', '/api/providers/extra')).status === 200,
    );

    expect((await admin(c, 'DELETE', '/api/governance/virtual-keys/alpha')).status).toBe(204);
    const deleted = await timeUntil(nodes, async (n) => (await vkOn(n, 'alpha')) === undefined);

    console.log(
      `propagation ms: create ${created.toFixed(0)}, update ${updated.toFixed(0)}, provider ${provided.toFixed(0)}, delete ${deleted.toFixed(0)}`,
    );
    for (const t of [created, updated, provided, deleted]) expect(t).toBeLessThan(1000);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    console.log(
      metrics
        .split('\n')
        .filter((l) => l.startsWith('deepintshield_replication_lag'))
        .join('\n'),
    );
    // Secrets never come back from the admin API, on any node.
    const body = await (await admin(a, 'GET', '/api/providers/extra')).text();
    expect(body).not.toContain('secret-provider-key-123456');
    await converged(nodes);
  });

  it('concurrent conflicting updates resolve to the same winner on every node', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    expect((await admin(a, 'POST', '/api/governance/virtual-keys', vkBody('race'))).status).toBe(201);
    await timeUntil(nodes, async (n) => (await vkOn(n, 'race')) !== undefined);
    for (let round = 0; round < 3; round++) {
      const rs = await Promise.all(
        [a, b, c].map((n, i) =>
          admin(
            n,
            'PUT',
            '/api/governance/virtual-keys/race',
            vkBody('race', { allowed_models: [`mock/m${round}-${i}`] }),
          ),
        ),
      );
      for (const r of rs) expect(r.status).toBe(200);
      const config = await converged(nodes, 10_000);
      expect(config).toMatch(new RegExp(`mock/m${round}-[012]`));
    }
    // Concurrent delete and update: one of them wins everywhere.
    await Promise.all([
      admin(a, 'DELETE', '/api/governance/virtual-keys/race'),
      admin(
        b,
        'PUT',
        '/api/governance/virtual-keys/race',
        vkBody('race', { allowed_models: ['mock/final'] }),
      ),
    ]);
    await converged(nodes, 10_000);
  });

  it('file-owned entities are read-only through the admin API (409 naming the file)', async () => {
    const r = await admin(nodes[1]!, 'PUT', '/api/governance/virtual-keys/seed', vkBody('seed'));
    expect(r.status).toBe(409);
    const body = (await r.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('owned_by_config_file');
    expect(body.error.message).toContain(nodes[1]!.configPath);
    expect((await admin(nodes[2]!, 'DELETE', '/api/providers/mock')).status).toBe(409);
    // The start-up log lists the effective names.
    const line = await nodes[0]!.waitForLog('live providers:');
    expect(line.providers).toEqual(['mock']);
    expect(line.virtual_keys).toEqual(['seed']);
  });

  it('a node that was down during changes catches up before /ready', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await c.stop();
    await admin(a, 'POST', '/api/governance/virtual-keys', vkBody('while-down-1'));
    await admin(b, 'POST', '/api/governance/virtual-keys', vkBody('while-down-2'));
    await admin(a, 'DELETE', '/api/providers/extra');
    c.start();
    await c.waitReady(30_000);
    // Right at /ready, without waiting for gossip: the replica is already complete.
    expect(await vkOn(c, 'while-down-1')).toBeDefined();
    expect(await vkOn(c, 'while-down-2')).toBeDefined();
    expect((await admin(c, 'GET', '/api/providers/extra')).status).toBe(404);
    await c.waitForLog('config replica in sync with peers', 2000);
    await converged(nodes);
  });

  it('a brand-new node gets the whole config before /ready', async () => {
    const d = replicaNode({
      index: 4,
      httpPort: ports[3]!,
      gossipPort: ports[7]!,
      seeds: [ports[4]!],
    }).start();
    nodes.push(d);
    await d.waitReady(30_000);
    expect(await vkOn(d, 'while-down-1')).toBeDefined();
    expect(await vkOn(d, 'while-down-2')).toBeDefined();
    await converged(nodes);
    // And its writes reach the others within 1 s.
    expect((await admin(d, 'POST', '/api/governance/virtual-keys', vkBody('from-new'))).status).toBe(201);
    expect(await timeUntil(nodes, async (n) => (await vkOn(n, 'from-new')) !== undefined)).toBeLessThan(1000);
  });
});
