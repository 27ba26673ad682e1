import type { Registry } from 'prom-client';
import { validateConfig } from '../../src/config/load.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import type {
  Admission,
  AdmissionRequest,
  GovernanceHook,
  RequestRecord,
  Usage,
} from '../../src/gateway/hooks.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/metrics.js';
import { HttpError } from '../../src/server/errors.js';
import { HttpServer } from '../../src/server/http-server.js';
import { Router } from '../../src/server/router.js';

/** Governance that admits everything and records what it was asked and what was settled. */
export class RecordingGovernance implements GovernanceHook {
  readonly admitted: AdmissionRequest[] = [];
  readonly settled: (Usage | null)[] = [];
  /** Refuse targets whose model is in this set (403), the primary and every fallback alike. */
  forbidden = new Set<string>();
  /** Refuse with `wait` (a claim being confirmed) until asked again: what a limiter does in a round trip. */
  pendingFirst = false;

  admit(req: AdmissionRequest): Admission {
    this.admitted.push(req);
    if (this.pendingFirst && !req.again)
      return {
        reject: new HttpError(429, 'limit reached', 'rate_limit_error', 'rate_limit_exceeded'),
        settle: () => undefined,
        wait: new Promise((r) => setTimeout(r, 20)),
      };
    const all = [{ provider: req.provider, model: req.model }, ...(req.fallbacks ?? [])];
    const bad = all.find((t) => this.forbidden.has(t.model));
    return {
      ...(bad ? { reject: forbid(bad.model) } : {}),
      settle: (u) => void this.settled.push(u),
    };
  }
}

function forbid(model: string): HttpError {
  return new HttpError(403, `model ${model} is not allowed`, 'permission_error', 'model_not_allowed');
}

/** An in-process gateway behind the real HTTP server, with injectable hooks. */
export class GatewayHarness {
  gateway!: Gateway;
  http!: HttpServer;
  registry: Registry = createRegistry({ defaultMetrics: false });
  readonly governance = new RecordingGovernance();
  readonly records: RequestRecord[] = [];
  base = '';

  async start(raw: Record<string, unknown>, extra: Partial<GatewayOptions> = {}): Promise<this> {
    const config = validateConfig(
      { server: { host: '127.0.0.1', port: 0, drain_accept_seconds: 0, ...(raw.server as object) }, ...raw },
      'test',
      {},
    );
    const logger = silentLogger();
    this.gateway = new Gateway({
      config,
      logger,
      registry: this.registry,
      governance: this.governance,
      observer: { onRequestEnd: (r) => this.records.push(r) },
      listUpstreamModels: false,
      ...extra,
    });
    const router = new Router().addAll(this.gateway.routes());
    this.http = new HttpServer({ config: config.server, logger, registry: this.registry, router });
    await this.http.listen();
    this.base = `http://127.0.0.1:${this.http.address().port}`;
    return this;
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  async stop(): Promise<void> {
    await this.http?.close();
    await this.gateway?.close();
  }
}
