import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { GovernanceHook } from '../../src/gateway/hooks.js';
import { GovernanceRuntime } from '../../src/governance/runtime.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/metrics.js';
import { parseJsonObject, readBody } from '../../src/server/body.js';
import { HttpError, sendError, sendJson } from '../../src/server/errors.js';
import { HttpServer } from '../../src/server/http-server.js';
import { opsRoutes } from '../../src/server/ops-routes.js';
import { Router } from '../../src/server/router.js';
import type { ConfigStore } from '../../src/store/types.js';

/**
 * A governed node in-process: the real HTTP server, admin API and
 * governance runtime, with a minimal OpenAI-compatible chat endpoint that
 * calls the governance hook exactly as hooks.ts specifies (admit before,
 * settle with usage after, streaming included). Answers are deterministic:
 * 10 prompt tokens, `completion_tokens` (default 20) completion tokens.
 */
export class GovernedNode {
  readonly runtime: GovernanceRuntime;
  readonly http: HttpServer;
  readonly config: Config;
  providersApplied: Config['providers'] = {};
  completionTokens = 20;
  /** Log lines (msg) when constructed with captureLogs. */
  readonly logs: { level: string; msg: string }[] = [];

  constructor(raw: Record<string, unknown>, opts: { store?: ConfigStore; captureLogs?: boolean } = {}) {
    this.config = validateConfig({ server: { host: '127.0.0.1', port: 0 }, ...raw }, 'test');
    const logger = opts.captureLogs
      ? createLogger({
          level: 'info',
          destination: {
            write: (line: string) => {
              try {
                this.logs.push(JSON.parse(line));
              } catch {
                /* ignore */
              }
            },
          },
        })
      : silentLogger();
    const registry = createRegistry({ defaultMetrics: false });
    this.runtime = new GovernanceRuntime({
      config: this.config,
      logger,
      registry,
      store: opts.store,
      onProviders: (p) => {
        this.providersApplied = p;
      },
    });
    const router = new Router();
    router.addAll(opsRoutes({ registry, readiness: [() => this.runtime.readiness()] }));
    router.addAll(this.runtime.routes());
    router.add({
      method: 'POST',
      path: '/v1/chat/completions',
      handler: (req, res) => this.chat(req, res, this.runtime.governance),
    });
    this.http = new HttpServer({ config: this.config.server, logger, registry, router });
  }

  async start(): Promise<this> {
    await this.runtime.start();
    await this.http.listen();
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.http.address().port}`;
  }

  private async chat(req: IncomingMessage, res: ServerResponse, gov: GovernanceHook): Promise<void> {
    const body = parseJsonObject(await readBody(req, 1 << 20));
    const [provider, ...rest] = String(body.model ?? '').split('/');
    const model = rest.join('/');
    if (!provider || !model) return sendError(res, new HttpError(400, 'model must be provider/model'));
    const vkHeader = req.headers['x-deepintshield-vk'];
    const auth = req.headers.authorization;
    const virtualKey =
      typeof vkHeader === 'string'
        ? vkHeader
        : typeof auth === 'string' && auth.startsWith('Bearer ')
          ? auth.slice(7)
          : undefined;
    const adm = gov.admit({ virtualKey, provider, model, route: '/v1/chat/completions' });
    if (adm.reject) return sendError(res, adm.reject);
    for (const [k, v] of Object.entries(adm.headers ?? {})) res.setHeader(k, v);
    const usage = {
      prompt_tokens: 10,
      completion_tokens: this.completionTokens,
      total_tokens: 10 + this.completionTokens,
    };
    const id = 'chatcmpl-test';
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const words = ['Hello', ' from', ' the', ' test'];
      for (const w of words)
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`,
        );
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
      );
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
      adm.settle({
        provider,
        model,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      });
      return;
    }
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: 1,
      model: body.model,
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello from the test' }, finish_reason: 'stop' },
      ],
      usage,
    });
    adm.settle({
      provider,
      model,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
    });
  }

  async stop(): Promise<void> {
    await this.http.drain(0, 2000).catch(() => undefined);
    await this.runtime.close();
  }
}
