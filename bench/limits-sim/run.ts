/**
 * Limiter simulator: the real DistributedCounters on the in-memory gossip
 * network (test/cluster/state/fake-network.ts) in virtual time, at N nodes with
 * message loss. Reports accuracy per window and the counter traffic per node.
 *
 *   npx tsx bench/limits-sim/run.ts [--nodes 3,15,50] [--loss 0.01] [--windows 2] [--overload 3] [--shape even|skewed]
 *     [--limit 1000] [--seeds 1,2,3] (network seeds: which datagrams are lost, the latencies)
 *
 * Bounded: windows × 5 s of virtual time per N.
 */
import { parseArgs } from 'node:util';
import { runSchedule } from '../../test/cluster/state/schedule.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3,15,50' },
    loss: { type: 'string', default: '0.01' },
    windows: { type: 'string', default: '2' },
    overload: { type: 'string', default: '3' },
    shape: { type: 'string', default: 'even' },
    limit: { type: 'string', default: '1000' },
    seeds: { type: 'string', default: '1' },
  },
});
const WINDOW_MS = 5000;
const LIMIT = Number(args.limit);
for (const n of args.nodes.split(',').map(Number)) {
  const total = Math.ceil(LIMIT * Number(args.overload) * Number(args.windows));
  const span = WINDOW_MS * Number(args.windows);
  const pick = (i: number) => {
    if (args.shape === 'even') return i % n;
    const r = (i * 0.6180339887) % 1;
    return r < 0.7 ? 0 : r < 0.9 ? 1 % n : 2 + (i % Math.max(1, n - 2));
  };
  const arrivals = Array.from({ length: total }, (_, i) => ({
    at: Math.floor((i * span) / total),
    node: pick(i) % n,
  }));
  for (const seed of args.seeds.split(',').map(Number)) {
    const t0 = performance.now();
    const r = runSchedule({
      nodes: n,
      seed,
      lossRate: Number(args.loss),
      spec: { key: 'vk:sim:req', limit: LIMIT, duration: { kind: 'fixed', ms: WINDOW_MS }, integer: true },
      arrivals,
      tailMs: 0,
    });
    const wall = performance.now() - t0;
    const bytes = r.counters.reduce((a, c) => a + c.stats_.bytesSent, 0);
    const perNodePerS = bytes / n / (span / 1000);
    const rows = r.admitted.map((a, i) => {
      const target = Math.min(LIMIT, r.offered[i] ?? 0);
      return `${a} (${(((a - target) / LIMIT) * 100).toFixed(2)}%)`;
    });
    console.log(
      `N=${n} loss=${args.loss} shape=${args.shape} seed=${seed}: admitted per window ${rows.join(', ')}; counter bytes sent per node per s ${Math.round(perNodePerS)}; wall ${Math.round(wall)} ms`,
    );
  }
}
