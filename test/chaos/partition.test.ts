import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgServer } from '../store/pg-server.js';
import { waitFor } from '../support/wait.js';
import { ChaosCluster, HTTP_PORT } from './harness.js';

/**
 * Partition: cut {1,2} from {3}. Both sides keep serving, the virtual key's
 * limit is never spent twice (each side keeps to its share), config changes
 * made on either side during the partition are all present after the heal,
 * and the cluster is one again.
 */
const LIMIT = 300;
const VK = 'vk-partition-test-value';
const TOKEN = 'partition-admin-token-0123456789';

describe('chaos: partition {1,2} | {3}', () => {
  let pgServer: PgServer;
  const dispatcher = new Agent({ connections: 16 });
  const chaos = new ChaosCluster({
    nodes: 3,
    subnet: 88,
    beforeNodes: async (rootIp) => {
      pgServer = await new PgServer(rootIp).init();
    },
    extraConfig: () => ({
      config_store: pgServer.storeConfig(),
      server: {
        host: '0.0.0.0',
        port: HTTP_PORT,
        drain_timeout_seconds: 20,
        drain_accept_seconds: 3,
        admin_token: TOKEN,
      },
      governance: {
        virtual_keys: [
          { id: 'part', value: VK, rate_limit: { request_max_limit: LIMIT, request_reset_duration: '1M' } },
        ],
      },
    }),
  });

  beforeAll(async () => {
    await chaos.start();
  }, 120_000);
  afterAll(async () => {
    await chaos.destroy();
    pgServer?.stop();
    await dispatcher.close();
  });

  const url = (i: number) => `http://${chaos.net.hosts[i - 1]!.ip}:${HTTP_PORT}`;
  async function send(nodes: number[], n: number): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = nodes[next++ % nodes.length]!;
        try {
          const res = await request(`${url(i)}/v1/chat/completions`, {
            method: 'POST',
            dispatcher,
            headers: { 'content-type': 'application/json', 'x-deepintshield-vk': VK },
            body: JSON.stringify({ model: 'mock/mock-model', messages: [{ role: 'user', content: 'hi' }] }),
          });
          await res.body.text();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        } catch {
          statuses[0] = (statuses[0] ?? 0) + 1;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return statuses;
  }
  const admin = (i: number, method: string, path: string, body?: unknown) =>
    fetch(`${url(i)}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  it('both sides serve, keep to their share, and merge config and membership on heal', async () => {
    const warm = await send([1, 2, 3], 30);
    chaos.partition([1, 2], [3]);
    const cutAt = Date.now();
    await waitFor(
      async () => {
        const [a, c] = await Promise.all([chaos.nodes[0]!.status(), chaos.nodes[2]!.status()]);
        return a.members === 2 && c.members === 1;
      },
      { timeoutMs: 40_000, what: 'both sides to see the partition' },
    );
    const detectMs = Date.now() - cutAt;

    expect(
      (
        await admin(1, 'POST', '/api/governance/virtual-keys', {
          id: 'side-a',
          value: 'vk-made-on-side-a-123',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin(3, 'POST', '/api/governance/virtual-keys', {
          id: 'side-b',
          value: 'vk-made-on-side-b-123',
        })
      ).status,
    ).toBe(201);

    const [majority, minority] = await Promise.all([send([1, 2], 400), send([3], 200)]);
    chaos.heal([1, 2], [3]);
    const healAt = Date.now();
    await chaos.waitHealthy(3, undefined, 60_000);
    const mergeMs = Date.now() - healAt;

    for (const i of [1, 2, 3])
      for (const id of ['side-a', 'side-b'])
        await waitFor(
          async () => (await admin(i, 'GET', `/api/governance/virtual-keys/${id}`)).status === 200,
          {
            timeoutMs: 5000,
            what: `${id} on node ${i}`,
          },
        );
    const after = await send([1, 2, 3], 60);

    const admitted = (warm[200] ?? 0) + (majority[200] ?? 0) + (minority[200] ?? 0) + (after[200] ?? 0);
    const figures = { warm, majority, minority, after, admitted, detectMs, mergeMs };
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync('test-artifacts/chaos-partition.json', JSON.stringify(figures, null, 2));
    console.log(`partition: ${JSON.stringify(figures)}`);
    // both sides kept serving: no transport errors, no 5xx
    for (const s of [majority, minority])
      expect(Object.keys(s).every((k) => k === '200' || k === '429')).toBe(true);
    expect(majority[200] ?? 0).toBeGreaterThan(0);
    // the limit was never spent twice
    expect(admitted).toBeLessThanOrEqual(Math.floor(LIMIT * 1.01));
  }, 180_000);

  it('config store outage: PostgreSQL down for 30 s under load → 0 failed requests; back → admin changes work', async () => {
    const load = chaos.load({ rate: 200, durationSeconds: 40, streamShare: 0.3 });
    await new Promise((r) => setTimeout(r, 3000));
    pgServer.stop();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    for (let i = 1; i <= 3; i++) expect((await fetch(`${url(i)}/ready`)).status).toBe(200);
    const refused = await admin(1, 'POST', '/api/governance/virtual-keys', {
      id: 'during-outage',
      value: 'vk-during-outage-1234',
    });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    await pgServer.start();
    const result = await load;
    const created = await waitFor(
      async () =>
        (
          await admin(2, 'POST', '/api/governance/virtual-keys', {
            id: 'after-outage',
            value: 'vk-after-outage-12345',
          })
        ).status === 201,
      { timeoutMs: 30_000, intervalMs: 500, what: 'admin API to work again' },
    );
    for (const i of [1, 2, 3])
      await waitFor(
        async () => (await admin(i, 'GET', '/api/governance/virtual-keys/after-outage')).status === 200,
        {
          timeoutMs: 5000,
          what: `after-outage on node ${i}`,
        },
      );
    writeFileSync(
      'test-artifacts/chaos-store-outage.json',
      JSON.stringify({ ...result, timeline: undefined, created }, null, 2),
    );
    console.log(
      `store outage: sent ${result.sent}, failed ${result.failed}, broken streams ${result.brokenStreams}`,
    );
    expect(result.failed).toBe(0);
  }, 120_000);
});
