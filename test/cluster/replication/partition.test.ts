import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../support/netns.js';
import { NodeProcess } from '../../support/node-process.js';
import { waitFor } from '../../support/wait.js';
import { admin, converged, members, TOKEN, timeUntil, vkBody, vkOn } from './harness.js';

const HTTP = 8080;
const GOSSIP = 10101;
/** Third octet of 10.77.X.0/24, unique to this file (run under flock with the other netns tests). */
const SUBNET = 97;

/**
 * 5 real node processes, each in its own network namespace with its own
 * SQLite replica. Connected, every change is everywhere within 1 s; a
 * partition {1,2,3} | {4,5} with writes on both sides (one entity changed on
 * both) heals to one config on all five.
 */
describe('replicated config, 5 nodes in namespaces: partition with writes on both sides, then heal', () => {
  const net = new TestNetwork(SUBNET);
  const nodes: NodeProcess[] = [];

  const cut = (a: number[], b: number[], op: 'add' | 'del') => {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const)
      for (const i of from)
        for (const j of to)
          try {
            execFileSync(
              'ip',
              ['-n', net.hosts[i - 1]!.ns, 'route', op, 'blackhole', `${net.hosts[j - 1]!.ip}/32`],
              {
                stdio: 'ignore',
              },
            );
          } catch (err) {
            if (op === 'add') throw err;
          }
  };

  beforeAll(async () => {
    net.create(5);
    net.attachRoot();
    for (let i = 0; i < 5; i++) {
      const host = net.hosts[i]!;
      nodes.push(
        new NodeProcess({
          netns: host.ns,
          httpHost: host.ip,
          config: {
            server: {
              host: '0.0.0.0',
              port: HTTP,
              admin_token: TOKEN,
              drain_accept_seconds: 0,
              drain_timeout_seconds: 1,
            },
            providers: { mock: { keys: [{ name: 'k', value: 'mock-key-123' }] } },
            cluster_config: {
              enabled: true,
              node_name: `part-${i + 1}`,
              bind_address: host.ip,
              peers: net.hosts
                .slice(0, 5)
                .filter((h) => h !== host)
                .map((h) => `${h.ip}:${GOSSIP}`),
              gossip: {
                port: GOSSIP,
                timings: { profile: 'local' },
                config: {
                  timeout_seconds: 1,
                  interval_seconds: 0.5,
                  success_threshold: 2,
                  failure_threshold: 2,
                },
              },
            },
          },
        }).start(),
      );
    }
    await Promise.all(nodes.map((n) => n.waitReady(40_000)));
    await members(nodes, 5);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    net.destroy();
  });

  it('connected: every change is on all 5 nodes within 1 s', async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect((await admin(nodes[i]!, 'POST', '/api/governance/virtual-keys', vkBody(`c${i}`))).status).toBe(
        201,
      );
      times.push(await timeUntil(nodes, async (n) => (await vkOn(n, `c${i}`)) !== undefined));
    }
    console.log(`5-node propagation ms: ${times.map((t) => t.toFixed(0)).join(', ')}`);
    for (const t of times) expect(t).toBeLessThan(1000);
  });

  it('writes on both sides of a partition all survive the heal, conflicts resolved the same way everywhere', async () => {
    expect((await admin(nodes[0]!, 'POST', '/api/governance/virtual-keys', vkBody('both'))).status).toBe(201);
    await timeUntil(nodes, async (n) => (await vkOn(n, 'both')) !== undefined);
    cut([1, 2, 3], [4, 5], 'add');
    try {
      await waitFor(
        async () => {
          const [a, d] = await Promise.all([nodes[0]!.status(), nodes[3]!.status()]);
          return a.members === 3 && d.members === 2;
        },
        { timeoutMs: 40_000, what: 'both sides to see the partition' },
      );
      expect((await admin(nodes[1]!, 'POST', '/api/governance/virtual-keys', vkBody('major'))).status).toBe(
        201,
      );
      expect((await admin(nodes[4]!, 'POST', '/api/governance/virtual-keys', vkBody('minor'))).status).toBe(
        201,
      );
      expect((await admin(nodes[3]!, 'DELETE', '/api/governance/virtual-keys/c0')).status).toBe(204);
      await admin(
        nodes[0]!,
        'PUT',
        '/api/governance/virtual-keys/both',
        vkBody('both', { allowed_models: ['mock/major'] }),
      );
      await admin(
        nodes[4]!,
        'PUT',
        '/api/governance/virtual-keys/both',
        vkBody('both', { allowed_models: ['mock/minor'] }),
      );
      // Each side is consistent within itself.
      await converged(nodes.slice(0, 3), 5000);
      await converged(nodes.slice(3), 5000);
    } finally {
      cut([1, 2, 3], [4, 5], 'del');
    }
    const healAt = Date.now();
    const config = await converged(nodes, 60_000);
    console.log(`partition heal: one config on all 5 after ${Date.now() - healAt} ms`);
    expect(config).toContain('"major"');
    expect(config).toContain('"minor"');
    expect(config).not.toContain('"c0"');
    // The later write of the two wins (the minority's, made second).
    expect(config).toContain('mock/minor');
  });
});
