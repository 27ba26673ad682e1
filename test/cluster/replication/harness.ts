import { NodeProcess } from '../../support/node-process.js';
import { waitFor } from '../../support/wait.js';

export const TOKEN = 'admin-token-replication-0123456789';

export interface ReplicaNodeOptions {
  index: number;
  httpPort: number;
  gossipPort: number;
  /** Gossip ports of the seeds to join. */
  seeds: number[];
  extraConfig?: Record<string, unknown>;
}

/** A node process with its own SQLite replica (NodeProcess puts it in the node's temp dir). */
export function replicaNode(o: ReplicaNodeOptions): NodeProcess {
  return new NodeProcess({
    config: {
      server: {
        host: '127.0.0.1',
        port: o.httpPort,
        admin_token: TOKEN,
        drain_accept_seconds: 0,
        drain_timeout_seconds: 1,
      },
      providers: { mock: { keys: [{ name: 'k', value: 'mock-key-123' }] } },
      governance: { virtual_keys: [{ id: 'seed', value: 'vk-seed-0123456789' }] },
      cluster_config: {
        enabled: true,
        node_name: `repl-${o.index}`,
        bind_address: '127.0.0.1',
        peers: o.seeds.map((p) => `127.0.0.1:${p}`),
        gossip: { port: o.gossipPort, timings: { profile: 'local' } },
      },
      ...o.extraConfig,
    },
  });
}

/**
 * One replica node per HTTP port, each seeded with the others' gossip ports, added to `into` as it
 * starts (so the caller's cleanup stops them even if a wait fails); resolves once all are ready and members.
 */
export async function startReplicas(
  into: NodeProcess[],
  httpPorts: number[],
  gossipPorts: number[],
): Promise<void> {
  const started = httpPorts.map((httpPort, i) =>
    replicaNode({
      index: i + 1,
      httpPort,
      gossipPort: gossipPorts[i]!,
      seeds: gossipPorts.filter((_, j) => j !== i),
    }).start(),
  );
  into.push(...started);
  await Promise.all(started.map((n) => n.waitReady(30_000)));
  await members(started, started.length);
}

export const admin = (n: NodeProcess, method: string, path: string, body?: unknown) =>
  fetch(`${n.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5000),
  });

/** What a node serves through its admin API: virtual keys and providers, secrets masked, sorted. */
export async function configOf(n: NodeProcess): Promise<string> {
  const vks = (await (await admin(n, 'GET', '/api/governance/virtual-keys')).json()) as {
    virtual_keys: Array<{ id: string }>;
  };
  const ps = (await (await admin(n, 'GET', '/api/providers')).json()) as {
    providers: Array<{ name: string }>;
  };
  return JSON.stringify({
    vks: vks.virtual_keys.sort((a, b) => a.id.localeCompare(b.id)),
    providers: ps.providers.sort((a, b) => a.name.localeCompare(b.name)),
  });
}

export async function vkOn(n: NodeProcess, id: string): Promise<Record<string, unknown> | undefined> {
  const r = await admin(n, 'GET', `/api/governance/virtual-keys/${id}`);
  if (r.status === 404) return undefined;
  return (await r.json()) as Record<string, unknown>;
}

/** Milliseconds until `check` holds on every node, polled every 10 ms. */
export async function timeUntil(
  on: NodeProcess[],
  check: (n: NodeProcess) => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<number> {
  const t0 = performance.now();
  await waitFor(async () => (await Promise.all(on.map(check))).every(Boolean), {
    timeoutMs,
    intervalMs: 10,
    what: 'the change on every node',
  });
  return performance.now() - t0;
}

/** Every node serves the same config. */
export async function converged(nodes: NodeProcess[], timeoutMs = 20_000): Promise<string> {
  return waitFor(
    async () => {
      const all = await Promise.all(nodes.map(configOf));
      return all.every((c) => c === all[0]) ? all[0] : undefined;
    },
    { timeoutMs, intervalMs: 50, what: 'the same config on every node' },
  );
}

export async function members(nodes: NodeProcess[], n: number): Promise<void> {
  await waitFor(async () => (await Promise.all(nodes.map((x) => x.status()))).every((s) => s.members === n), {
    timeoutMs: 30_000,
    what: `${n} members on every node`,
  });
}

export const vkBody = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  value: `vk-${id}-value-0123456789`,
  ...extra,
});
