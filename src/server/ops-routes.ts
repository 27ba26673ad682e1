import type { Registry } from 'prom-client';
import { sendJson } from './errors.js';
import type { Route } from './router.js';

/** Returns undefined when ready, else the reason it is not. */
export type ReadinessCheck = () => string | undefined;

export function opsRoutes(opts: { registry: Registry; readiness: ReadinessCheck[] }): Route[] {
  return [
    { method: 'GET', path: '/health', handler: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/ready',
      handler: (_req, res) => {
        for (const check of opts.readiness) {
          const reason = check();
          if (reason) return sendJson(res, 503, { status: 'not ready', reason });
        }
        sendJson(res, 200, { status: 'ready' });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => {
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(text);
      },
    },
  ];
}
