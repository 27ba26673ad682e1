import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/**
 * Gossip key rotation without downtime, end to end with real processes:
 * install the new key everywhere as an extra key, make it primary
 * everywhere, then remove the old one — one node at a time, the cluster
 * HEALTHY after every restart. A node with a wrong key never gets in.
 */
const OLD = randomBytes(32).toString('base64');
const NEW = randomBytes(32).toString('base64');
const WRONG = randomBytes(32).toString('base64');

describe('gossip key rotation', () => {
  const nodes: (NodeProcess | undefined)[] = [];
  let ports: number[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n?.destroy()));
  });

  const config = (i: number, primary: string, extra: string[]) => ({
    server: { host: '127.0.0.1', port: ports[10 + i], drain_accept_seconds: 0, drain_timeout_seconds: 5 },
    cluster_config: {
      enabled: true,
      node_name: `rot-${i}`,
      bind_address: '127.0.0.1',
      peers: [0, 1, 2].filter((j) => j !== i).map((j) => `127.0.0.1:${ports[j]}`),
      gossip: {
        port: ports[i],
        encryption_key: primary,
        encryption_keys: extra,
        timings: { profile: 'local' },
        config: { timeout_seconds: 1, interval_seconds: 0.3, success_threshold: 1, failure_threshold: 2 },
      },
    },
  });
  const healthy = async (n: number) =>
    waitFor(
      async () => {
        const live = nodes.filter((x): x is NodeProcess => !!x?.running);
        const all = await Promise.all(live.map((x) => x.status()));
        return all.every((s) => s.members === n && s.healthy_members === n);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `${n} healthy members` },
    );
  const restart = async (i: number, primary: string, extra: string[]) => {
    await nodes[i]!.stop();
    await nodes[i]!.destroy();
    nodes[i] = new NodeProcess({ config: config(i, primary, extra) }).start();
    await nodes[i]!.waitReady();
    await healthy(3);
  };

  it('rotates the key one node at a time with the cluster HEALTHY throughout; a wrong key cannot join', async () => {
    ports = await freePorts(16);
    for (let i = 0; i < 3; i++) nodes[i] = new NodeProcess({ config: config(i, OLD, []) }).start();
    await Promise.all(nodes.map((n) => n!.waitReady()));
    await healthy(3);
    for (let i = 0; i < 3; i++) await restart(i, OLD, [NEW]); // step 1: everyone accepts the new key
    for (let i = 0; i < 3; i++) await restart(i, NEW, [OLD]); // step 2: everyone sends with it
    for (let i = 0; i < 3; i++) await restart(i, NEW, []); // step 3: the old key is gone

    // A node still on the old key, and one with a wrong key, cannot get in.
    for (const [idx, key] of [
      [3, OLD],
      [4, WRONG],
    ] as const) {
      const intruder = new NodeProcess({
        config: {
          ...config(idx, key, []),
          server: { host: '127.0.0.1', port: ports[10 + idx], drain_accept_seconds: 0 },
        },
      }).start();
      nodes.push(intruder);
      await intruder.waitForLog('failed to join cluster', 20_000);
      const status = await nodes[0]!.status();
      expect(status.nodes.map((n) => n.name)).not.toContain(`rot-${idx}`);
      expect(status.members).toBe(3);
      await intruder.stop();
    }
  }, 180_000);
});
