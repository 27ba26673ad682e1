import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { DistributedCounters } from '../cluster/state/counters.js';
import type { ClusterLike } from '../cluster/state/gossip.js';
import { ClusterKeyGate } from '../cluster/state/key-gate.js';
import { parseFixedDuration } from '../config/duration.js';
import { type Config, providerTypeOf } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Route } from '../server/router.js';
import { createStore } from '../store/index.js';
import type { ConfigStore } from '../store/types.js';
import { adminRoutes } from './admin-api.js';
import { ConfigSync, type LiveConfig } from './config-sync.js';
import { Governance } from './governance.js';
import { UsagePersistence } from './usage-persistence.js';

export interface GovernanceRuntimeOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** Called with the live providers whenever they change (Gateway.updateProviders). */
  onProviders: (providers: Config['providers']) => void;
  /** Overrides the store from config (tests). */
  store?: ConfigStore;
  /** Where the config came from, named in the admin API's 409 for file-owned entities. */
  configSource?: string;
  nodeName?: string;
}

/**
 * Everything governance needs on one node, wired together: config store,
 * config sync, cluster-wide counters, provider-key gate, the governance hook
 * and the admin API. Runs with no cluster; attachCluster() plugs gossip in.
 */
export class GovernanceRuntime {
  readonly store: ConfigStore | undefined;
  readonly counters: DistributedCounters;
  readonly keyGate: ClusterKeyGate;
  readonly governance: Governance;
  readonly sync: ConfigSync;
  private readonly usage: UsagePersistence | undefined;
  private providers: Config['providers'];
  private restored = false;
  /** Persisted usage is in the counters (restore finished, or failed and was logged). */
  private usageLoaded = false;
  private started = false;

  constructor(private readonly o: GovernanceRuntimeOptions) {
    const { config, logger, registry } = o;
    this.providers = config.providers;
    this.store = o.store ?? createStore(config.config_store);
    // Distinct per process: usage slots persisted by nodes sharing a store must never collide.
    const nodeName = o.nodeName ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.counters = new DistributedCounters({ nodeName, logger });
    this.keyGate = new ClusterKeyGate(this.counters, { logger });
    this.keyGate.setProviders(config.providers);
    this.governance = new Governance({
      counters: this.counters,
      config: config.governance,
      logger,
      registry,
      providerType: (name) => {
        const p = this.providers[name];
        return p ? providerTypeOf(name, p) : undefined;
      },
    });
    this.sync = new ConfigSync({
      store: this.store,
      config,
      configSource: o.configSource,
      tombstoneRetentionMs:
        config.config_store.type === 'sqlite'
          ? parseFixedDuration(config.config_store.config.tombstone_retention)
          : undefined,
      onReplicatedUsage: (rows) => this.counters.restoreUsage(rows),
      logger,
      registry,
      apply: (live) => this.apply(live),
    });
    this.usage = this.store ? new UsagePersistence(this.store, this.counters, logger) : undefined;
    if (!config.server.admin_token)
      logger.warn(
        'no server.admin_token configured: the admin API only answers requests from loopback addresses',
      );
  }

  private apply(live: LiveConfig): void {
    this.providers = live.providers;
    this.governance.setVirtualKeys(live.virtualKeys);
    this.keyGate.setProviders(live.providers);
    this.o.onProviders(live.providers);
    if (this.started && !this.restored) void this.restoreUsage(); // the store came up after start()
  }

  /** Store first (bounded wait), then persisted usage; never throws. */
  async start(): Promise<void> {
    await this.sync.start();
    // Before serving: a budget spent before a restart must be spent after it.
    if (this.sync.readiness() === undefined) await this.restoreUsage();
    this.started = true;
    this.usage?.start();
  }

  private async restoreUsage(): Promise<void> {
    if (this.restored || !this.usage) return;
    this.restored = true;
    const n = await this.usage.restore();
    this.usageLoaded = true;
    if (n > 0) this.o.logger.info({ rows: n }, 'persisted usage loaded');
  }

  attachCluster(cluster: ClusterLike): void {
    this.counters.attachCluster(cluster);
    this.keyGate.attachCluster(cluster);
    this.sync.attachCluster(cluster);
  }

  routes(): Route[] {
    return adminRoutes({
      sync: this.sync,
      adminToken: this.o.config.server.admin_token,
      logger: this.o.logger,
      maxBodyBytes: this.o.config.server.max_body_bytes,
      usage: (id) => this.governance.usage(id),
    });
  }

  /** For /ready. */
  readiness(): string | undefined {
    const sync = this.sync.readiness();
    if (sync !== undefined) return sync;
    // With a replica that caught up after start, usage loads in the background (apply): not ready
    // until it is, or a budget spent before a restart could be spent again right after it.
    if (this.usage && !this.usageLoaded) {
      if (this.started && !this.restored) void this.restoreUsage();
      return 'loading persisted usage';
    }
    return undefined;
  }

  live(): LiveConfig {
    return this.sync.live();
  }

  /** Persists usage one last time and closes the store. */
  async close(): Promise<void> {
    await this.sync.close();
    await this.usage?.stop();
    this.counters.close();
    await this.store?.close();
  }
}
