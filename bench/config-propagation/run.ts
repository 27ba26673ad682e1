/**
 * Config propagation: N real node processes (dist/main.js). Each change is
 * made through the admin API of one node (round robin); we measure how long
 * until every other node serves it, polling each node's admin API every 5 ms.
 *
 *   npm run build && npx tsx bench/config-propagation/run.ts [--changes 30] [--nodes 3] [--mode gossip|poll|replica|all]
 *
 * gossip:  one shared PostgreSQL, cluster enabled (announcement on channel 1 + 1 s store poll as safety net)
 * poll:    one shared PostgreSQL, no cluster, the store poll alone
 * replica: no shared database: each node its own SQLite replica, changes replicated over gossip
 */
import { parseArgs } from 'node:util';
import { PgServer } from '../../test/store/pg-server.js';
import { NodeProcess } from '../../test/support/node-process.js';
import { freePorts } from '../../test/support/ports.js';
import { waitFor } from '../../test/support/wait.js';

const { values: args } = parseArgs({
  options: {
    changes: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'all' },
  },
});
const CHANGES = Math.min(200, Number(args.changes));
const NODES = Math.max(2, Math.min(9, Number(args.nodes)));
const TOKEN = 'bench-admin-token-0123456789';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(mode: 'gossip' | 'poll' | 'replica', pg: PgServer | undefined): Promise<void> {
  await pg?.query('DROP TABLE IF EXISTS entities, store_meta, usage_counters, schema_migrations');
  const ports = await freePorts(2 * NODES);
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      nodes.push(
        new NodeProcess({
          config: {
            server: {
              host: '127.0.0.1',
              port: ports[i],
              admin_token: TOKEN,
              drain_accept_seconds: 0,
              drain_timeout_seconds: 1,
            },
            logging: { level: 'warn' },
            providers: { mock: { keys: [] } },
            // replica: NodeProcess gives each node its own SQLite file
            ...(pg ? { config_store: pg.storeConfig() } : {}),
            cluster_config:
              mode !== 'poll'
                ? {
                    enabled: true,
                    node_name: `cp-${i + 1}`,
                    bind_address: '127.0.0.1',
                    peers: ports
                      .slice(NODES)
                      .filter((_, j) => j !== i)
                      .map((p) => `127.0.0.1:${p}`),
                    gossip: { port: ports[NODES + i], timings: { profile: 'local' } },
                  }
                : { enabled: false },
          },
        }).start(),
      );
    }
    await Promise.all(nodes.map((n) => n.waitReady(30_000)));
    if (mode !== 'poll')
      await waitFor(
        async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.members === NODES),
        { timeoutMs: 20_000 },
      );
    const call = (n: NodeProcess, method: string, path: string, body?: unknown) =>
      fetch(`${n.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(5000),
      });
    const samples: number[] = [];
    for (let c = 0; c < CHANGES; c++) {
      const writer = nodes[c % NODES]!;
      const others = nodes.filter((n) => n !== writer);
      const id = `bench-${c}`;
      const t0 = performance.now();
      const res = await call(writer, 'POST', '/api/governance/virtual-keys', {
        id,
        value: `vk-bench-${c}-0123456789`,
      });
      if (res.status !== 201) throw new Error(`create answered ${res.status}`);
      const written = performance.now();
      const deadline = written + 5000;
      const pending = new Set(others);
      while (pending.size > 0 && performance.now() < deadline) {
        await Promise.all(
          [...pending].map(async (n) => {
            if ((await call(n, 'GET', `/api/governance/virtual-keys/${id}`)).status === 200)
              pending.delete(n);
          }),
        );
        if (pending.size > 0) await new Promise((r) => setTimeout(r, 5));
      }
      if (pending.size > 0) throw new Error(`change ${id} not applied everywhere within 5 s`);
      samples.push(performance.now() - written);
      void t0;
      // Spread changes over the poll period so the poll-only numbers are not phase-locked.
      await new Promise((r) => setTimeout(r, 37 + (c % 7) * 53));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(
      `${mode.padEnd(7)} nodes=${NODES} changes=${CHANGES}  p50=${pct(sorted, 50).toFixed(0)} ms  p95=${pct(sorted, 95).toFixed(0)} ms  max=${sorted[sorted.length - 1]!.toFixed(0)} ms  (time from the admin API's answer until every other node serves the change)`,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.destroy()));
  }
}

const wants = (m: string) => args.mode === m || args.mode === 'all';
if (wants('replica')) await run('replica', undefined);
if (wants('gossip') || wants('poll')) {
  const pg = await new PgServer().init();
  try {
    if (wants('gossip')) await run('gossip', pg);
    if (wants('poll')) await run('poll', pg);
  } finally {
    pg.destroy();
  }
}
