import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/** Three real node processes on loopback, static peers, fast gossip timings. */
export async function startThreeNodes(
  prefix: string,
  extra: Record<string, unknown> = {},
): Promise<NodeProcess[]> {
  const ports = await freePorts(6);
  const gossip = ports.slice(0, 3);
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(
      new NodeProcess({
        config: {
          server: {
            host: '127.0.0.1',
            port: ports[3 + i],
            drain_accept_seconds: 0,
            drain_timeout_seconds: 5,
          },
          providers: {
            mock: {
              keys: [{ name: 'k1', value: 'mock-key-1' }],
              mock_config: { latency_ms: 2, chunks: 5, chunk_interval_ms: 5 },
            },
          },
          cluster_config: {
            enabled: true,
            node_name: `${prefix}-${i + 1}`,
            bind_address: '127.0.0.1',
            peers: gossip.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
            gossip: {
              port: gossip[i],
              timings: { profile: 'local' },
              config: {
                timeout_seconds: 1,
                interval_seconds: 0.5,
                success_threshold: 1,
                failure_threshold: 2,
              },
            },
          },
          ...extra,
        },
      }).start(),
    );
  }
  await Promise.all(nodes.map((n) => n.waitReady(30_000)));
  await waitFor(
    async () => {
      const s = await nodes[0]!.status();
      return s.members === 3 && s.cluster_health === 'HEALTHY';
    },
    { timeoutMs: 30_000, what: '3 healthy members' },
  );
  return nodes;
}
