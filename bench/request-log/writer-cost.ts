/**
 * CPU cost of the request log per request, on the main thread: enqueue
 * (the request path's share) and the batched SQLite write (the event loop's
 * share, off the request's turn), into a real file in WAL mode.
 *   tsx bench/request-log/writer-cost.ts [records]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/observability/logger.js';
import { RequestLogWriter } from '../../src/observability/request-log.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';

const N = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'dis-rlog-bench-'));
const store = new SqliteRequestLogStore(
  join(dir, 'config.db'),
  process.argv[3] === 'inline' ? 'inline' : 'thread',
);
await store.init();
const writer = new RequestLogWriter({
  store,
  config: { enabled: true, retention: '7d', bodies: false, max_body_bytes: 65536, queue_size: N },
  nodeName: () => 'bench',
  logger: silentLogger(),
  registry: new Registry(),
});
const rec = (i: number) => ({
  requestId: `req-${i}`,
  startedAt: Date.now(),
  route: '/v1/chat/completions',
  virtualKeyId: 'team-a',
  provider: 'openai',
  model: 'gpt-4o-mini',
  status: 200,
  latencyMs: 1.234,
  promptTokens: 12,
  completionTokens: 34,
  cost: 0.00001,
  attempts: 1,
  fallbackIndex: 0,
  stream: false,
});
for (let round = 0; round < 3; round++) {
  const records = Array.from({ length: N }, (_, i) => rec(i));
  const t0 = process.hrtime.bigint();
  for (const r of records) writer.onRequestEnd(r);
  const t1 = process.hrtime.bigint();
  const elu0 = performance.eventLoopUtilization();
  await writer.flush();
  const t2 = process.hrtime.bigint();
  const busyUs = (performance.eventLoopUtilization(elu0).active * 1000) / N;
  const enqueueUs = Number(t1 - t0) / 1000 / N;
  const writeUs = Number(t2 - t1) / 1000 / N;
  console.log(
    `round=${round + 1} records=${N} enqueue_us_per_request=${enqueueUs.toFixed(3)} write_us_per_request=${writeUs.toFixed(2)} main_loop_busy_us_per_request=${busyUs.toFixed(2)}`,
  );
}
await writer.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
