import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { RequestObserver, RequestTracer } from '../gateway/hooks.js';
import type { Route } from '../server/router.js';
import type { RequestLogStore } from '../store/request-log.js';
import { PostgresRequestLogStore } from '../store/request-log-postgres.js';
import { SqliteRequestLogStore } from '../store/request-log-sqlite.js';
import type { Logger } from './logger.js';
import { type LogPeer, logsRoutes } from './logs-api.js';
import { RequestLogWriter } from './request-log.js';
import { createTracing, type TracingHandle } from './tracing.js';

export interface ObservabilityOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  version: string;
  /** The cluster's name for this node (read lazily: the cluster is created after the gateway). */
  nodeName: () => string;
  /** Other cluster members; empty without a cluster. */
  peers: () => LogPeer[];
  env?: NodeJS.ProcessEnv;
  /** Overrides the store from config (tests). */
  store?: RequestLogStore;
}

/** The request log's store beside the config store: same SQLite file or same PostgreSQL database. */
export function createRequestLogStore(cfg: Config['config_store']): RequestLogStore {
  if (!cfg.enabled) return new SqliteRequestLogStore(':memory:');
  if (cfg.type === 'sqlite') return new SqliteRequestLogStore(cfg.config.path, 'thread');
  const c = cfg.config;
  return new PostgresRequestLogStore({
    host: c.host,
    port: Number(c.port),
    user: c.user,
    password: c.password,
    database: c.db_name,
    ssl: c.ssl_mode,
  });
}

/**
 * One node's request log (writer, retention, /api/logs) and tracer. The
 * gateway gets `requestObserver` and `tracer`; both are undefined when
 * switched off, so a disabled feature costs the request path one check.
 */
export class Observability {
  readonly requestObserver: RequestObserver | undefined;
  readonly tracer: RequestTracer | undefined;
  private readonly writer: RequestLogWriter | undefined;
  private readonly store: RequestLogStore | undefined;
  private readonly tracing: TracingHandle | undefined;
  private storeOpen = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly o: ObservabilityOptions) {
    const { config, logger, registry } = o;
    const rl = config.observability.request_log;
    if (rl.enabled) {
      this.store = o.store ?? createRequestLogStore(config.config_store);
      this.writer = new RequestLogWriter({
        store: this.store,
        config: rl,
        nodeName: o.nodeName,
        logger,
        registry,
      });
      this.requestObserver = this.writer;
    }
    this.tracing = createTracing({
      config: config.observability.otel,
      env: o.env,
      logger,
      serviceVersion: o.version,
      instanceId: o.nodeName(),
    });
    this.tracer = this.tracing?.tracer;
  }

  /** Opens the log store (retrying in the background when it is down: records queue meanwhile, bounded). */
  async start(): Promise<void> {
    if (!this.store || !this.writer) return;
    const opened = this.openStore();
    // SQLite opens at once; PostgreSQL may be down, and the node serves without waiting for it.
    if (this.store.kind === 'sqlite') await opened;
  }

  private async openStore(): Promise<void> {
    try {
      await this.store!.init();
      this.storeOpen = true;
      this.writer!.start();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'request log store unavailable, retrying');
      this.retry = setTimeout(() => void this.openStore(), 5000);
      this.retry.unref();
    }
  }

  routes(): Route[] {
    if (!this.store) return [];
    return logsRoutes({
      store: this.store,
      peers: this.o.peers,
      adminToken: this.o.config.server.admin_token,
      logger: this.o.logger,
    });
  }

  /** Writes the queued records and exported spans, then closes. */
  async close(): Promise<void> {
    clearTimeout(this.retry);
    if (this.storeOpen) await this.writer?.close();
    await this.store?.close().catch(() => {});
    await this.tracing?.shutdown().catch(() => {});
  }
}
