/**
 * One bench node: real gossip (Cluster), the real governance runtime and
 * HTTP server, and a minimal chat endpoint that only runs governance
 * (admit + settle) and answers at once, so the bench measures the limiter,
 * not a provider. Each 200 carries `x-bench-window` (the window the request
 * was admitted in) so the runner can count per window even for a node that
 * gets killed.
 *
 * Env: BENCH_CONFIG (JSON of the node's config), BENCH_NAIVE=1 (no cluster counters:
 * a per-node limiter with limit/N).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cluster } from '../../src/cluster/cluster.js';
import { parseDuration, windowStart } from '../../src/config/duration.js';
import { validateConfig } from '../../src/config/load.js';
import { admitAfterWait } from '../../src/gateway/hooks.js';
import { GovernanceRuntime } from '../../src/governance/runtime.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/metrics.js';
import { parseJsonObject, readBody } from '../../src/server/body.js';
import { sendError, sendJson } from '../../src/server/errors.js';
import { HttpServer } from '../../src/server/http-server.js';
import { opsRoutes } from '../../src/server/ops-routes.js';
import { Router } from '../../src/server/router.js';

const config = validateConfig(JSON.parse(process.env.BENCH_CONFIG ?? '{}'), 'bench');
const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
const registry = createRegistry({ defaultMetrics: false });
const runtime = new GovernanceRuntime({ config, logger, registry, onProviders: () => undefined });
const vk = config.governance.virtual_keys[0]!;
// The window of the limit the bench sets (the schema gives request_reset_duration a default).
const duration = parseDuration(
  (vk.rate_limit?.token_max_limit !== undefined
    ? vk.rate_limit.token_reset_duration
    : vk.rate_limit?.request_reset_duration) ?? '1m',
);

const router = new Router();
router.addAll(opsRoutes({ registry, readiness: [() => runtime.readiness()] }));
router.add({
  method: 'POST',
  path: '/v1/chat/completions',
  handler: async (req: IncomingMessage, res: ServerResponse) => {
    const body = parseJsonObject(await readBody(req, 1 << 20));
    const [provider, ...rest] = String(body.model).split('/');
    const auth = req.headers.authorization;
    // `tokens`: what the request will use, given as its estimate (as max_tokens would be).
    const tokens = typeof body.tokens === 'number' && body.tokens > 0 ? body.tokens : 2;
    const asked = {
      virtualKey: typeof auth === 'string' ? auth.slice(7) : undefined,
      provider: provider!,
      model: rest.join('/'),
      route: '/v1/chat/completions',
      estimatedTokens: typeof body.tokens === 'number' ? tokens : undefined,
    };
    let adm = runtime.governance.admit(asked);
    // As the gateway does: a refusal while this node confirms a borrowed claim asks once more.
    if (adm.wait) adm = await admitAfterWait(runtime.governance, adm.wait, asked);
    if (adm.reject) return sendError(res, adm.reject);
    const ws = windowStart(duration, Date.now());
    sendJson(res, 200, { ok: true }, { ...adm.headers, 'x-bench-window': String(ws) });
    const prompt = Math.floor(tokens / 2);
    adm.settle({
      provider: provider!,
      model: rest.join('/'),
      promptTokens: prompt,
      completionTokens: tokens - prompt,
    });
  },
});
const http = new HttpServer({ config: config.server, logger, registry, router });
let cluster: Cluster | undefined;
if (config.cluster_config.enabled) {
  cluster = new Cluster({
    config: config.cluster_config,
    httpAddress: `127.0.0.1:${config.server.port}`,
    version: 'bench',
    logger,
    registry,
    traffic: () => http.traffic(),
  });
  if (process.env.BENCH_NAIVE !== '1') runtime.counters.attachCluster(cluster);
}

await runtime.start();
await http.listen();
await cluster?.start();
router.add({
  method: 'GET',
  path: '/bench/members',
  handler: (_req, res) =>
    sendJson(res, 200, { members: cluster?.members().filter((m) => m.state === 'alive').length ?? 1 }),
});
process.stdout.write('BENCH_NODE_READY\n');
const stop = async () => {
  await cluster?.leave().catch(() => undefined);
  await cluster?.shutdown().catch(() => undefined);
  await http.drain(0, 1000);
  await runtime.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
