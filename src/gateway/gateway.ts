import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { sendJson } from '../server/errors.js';
import type { Route } from '../server/router.js';
import type { GovernanceHook, ProviderKeyGate } from './hooks.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  governance: GovernanceHook;
  keyGate?: ProviderKeyGate;
}

/** Placeholder until the inference routes land: lists configured providers only. */
export class Gateway {
  private providers: Config['providers'];

  constructor(private readonly opts: GatewayOptions) {
    this.providers = opts.config.providers;
  }

  routes(): Route[] {
    return [
      {
        method: 'GET',
        path: '/v1/models',
        handler: (_req, res) =>
          sendJson(res, 200, { object: 'list', data: Object.keys(this.providers).map((p) => ({ id: `${p}/*`, object: 'model', owned_by: p })) }),
      },
    ];
  }

  updateProviders(providers: Config['providers']): void {
    this.providers = providers;
  }

  async close(): Promise<void> {
    void this.opts;
  }
}
