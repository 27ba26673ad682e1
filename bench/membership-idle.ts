/**
 * Idle cost of a 3-node cluster: real node processes (dist/main.js) on
 * loopback with LAN gossip timings and peer health checks, no traffic.
 * Measures each process's CPU share (utime+stime from /proc) and RSS over a
 * window after the cluster is HEALTHY.
 *
 *   npm run build && npx tsx bench/membership-idle.ts [seconds=60] [settle_seconds=20]
 */
import { readFileSync } from 'node:fs';
import { NodeProcess } from '../test/support/node-process.js';
import { freePorts } from '../test/support/ports.js';
import { sleep, waitFor } from '../test/support/wait.js';

const SECONDS = Number(process.argv[2] ?? 60);
const SETTLE_S = Number(process.argv[3] ?? 20);
const TICK = 100; // USER_HZ

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

const ports = await freePorts(6);
const nodes = [0, 1, 2].map((i) =>
  new NodeProcess({
    config: {
      server: { host: '127.0.0.1', port: ports[3 + i], drain_accept_seconds: 0 },
      cluster_config: {
        enabled: true,
        node_name: `idle-${i}`,
        bind_address: '127.0.0.1',
        peers: ports
          .slice(0, 3)
          .filter((_, j) => j !== i)
          .map((p) => `127.0.0.1:${p}`),
        gossip: { port: ports[i] },
      },
    },
    // IDLE_CPU_PROF=dir writes a V8 CPU profile of the first node (on its graceful exit) there.
    nodeArgs:
      process.env.IDLE_CPU_PROF && i === 0
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.IDLE_CPU_PROF}`]
        : [],
  }).start(),
);
try {
  await Promise.all(nodes.map((n) => n.waitReady()));
  await waitFor(
    async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.healthy_members === 3),
    {
      timeoutMs: 30_000,
    },
  );
  await sleep(SETTLE_S * 1000); // start-up work (JIT compilation, first push-pulls) out of the window
  const before = nodes.map((n) => cpuTicks(n.pid!));
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const rows = nodes.map((n, i) => ({
    node: `idle-${i}`,
    cpu_percent: (((cpuTicks(n.pid!) - before[i]!) / TICK / elapsed) * 100).toFixed(2),
    rss_mb: rssMb(n.pid!).toFixed(1),
  }));
  console.log(`idle 3-node cluster, LAN timings, ${elapsed.toFixed(0)} s window after ${SETTLE_S} s settled`);
  console.table(rows);
} finally {
  await Promise.all(nodes.map((n) => n.destroy()));
}
