/**
 * A minimal proxy standing in for the gateway's request path (read body,
 * call the upstream with undici, answer), with or without the request-log
 * writer recording every request into a real SQLite file. Used by
 * bench/request-log/overhead.sh to measure the writer's cost on the request
 * path before the gateway itself calls the seam.
 *   tsx bench/request-log/server.ts --port 8091 --upstream http://127.0.0.1:18080 --log on --db /tmp/x.db
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { createLogger } from '../../src/observability/logger.js';
import { RequestLogWriter } from '../../src/observability/request-log.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    upstream: { type: 'string' },
    log: { type: 'string', default: 'on' },
    db: { type: 'string', default: ':memory:' },
  },
});
const upstream = new Pool(values.upstream!, { connections: 256 });
let writer: RequestLogWriter | undefined;
if (values.log === 'on') {
  const store = new SqliteRequestLogStore(values.db!, 'thread');
  await store.init();
  writer = new RequestLogWriter({
    store,
    config: { enabled: true, retention: '7d', bodies: false, max_body_bytes: 65536, queue_size: 10_000 },
    nodeName: () => 'bench',
    logger: createLogger({ level: 'warn' }),
    registry: new Registry(),
  });
  writer.start();
}
let seq = 0;
createServer((req, res) => {
  const startedAt = Date.now();
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = Buffer.concat(chunks);
      const r = await upstream.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body,
      });
      const out = Buffer.from(await r.body.arrayBuffer());
      const usage = (
        JSON.parse(out.toString()) as { usage?: { prompt_tokens: number; completion_tokens: number } }
      ).usage;
      res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': out.length });
      res.end(out);
      writer?.onRequestEnd({
        requestId: `r${++seq}`,
        startedAt,
        route: '/v1/chat/completions',
        virtualKeyId: 'bench',
        provider: 'openai',
        model: 'mock-model',
        status: r.statusCode,
        latencyMs: performance.now() - t0,
        promptTokens: usage?.prompt_tokens ?? 0,
        completionTokens: usage?.completion_tokens ?? 0,
        cost: 0.00001,
        attempts: 1,
        fallbackIndex: 0,
        stream: false,
      });
    } catch {
      res.writeHead(502).end();
    }
  });
}).listen(Number(values.port), '127.0.0.1');
