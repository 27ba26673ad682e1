import { Gauge, type Registry } from 'prom-client';
import {
  DEFAULT_TOMBSTONE_RETENTION_MS,
  type ReplicationCluster,
  Replicator,
} from '../cluster/replication/replicator.js';
import { CHANNEL_CONFIG, type ClusterLike, type GossipChannel } from '../cluster/state/gossip.js';
import {
  type Config,
  type ProviderConfig,
  providerSchema,
  type VirtualKeyConfig,
  virtualKeySchema,
} from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import {
  type ConfigStore,
  type EntityKind,
  isReplicaStore,
  type SeedEntity,
  StoreConflictError,
  type StoreRow,
  type UsageRow,
} from '../store/types.js';
import { validateEntity } from './entity-schemas.js';

export interface LiveConfig {
  providers: Record<string, ProviderConfig>;
  virtualKeys: VirtualKeyConfig[];
}

export interface ConfigSyncOptions {
  store: ConfigStore | undefined;
  /** The config file: owns what it declares, and is what we serve until the store has answered. */
  config: Config;
  /** Where the config came from (a path, or "built-in defaults"): named in 409s on file-owned entities. */
  configSource?: string;
  /** Tombstones of the replicated SQLite store are kept this long (default 7 days). */
  tombstoneRetentionMs?: number;
  /** Persisted usage a peer sent while this replica caught up (merge it into the live counters). */
  onReplicatedUsage?: (rows: UsageRow[]) => void;
  logger: Logger;
  registry?: Registry;
  apply: (live: LiveConfig) => void;
  pollIntervalMs?: number;
  maxBackoffMs?: number;
  /** How long start() waits for the store before letting the node start without it. */
  startTimeoutMs?: number;
}

export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`config store unavailable: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** An admin-API write to an entity the config file owns (or the built-in mock). */
export class FileOwnedError extends Error {
  constructor(
    readonly kind: EntityKind,
    readonly id: string,
    owner: string,
  ) {
    super(
      `${kind === 'virtual_key' ? 'virtual key' : 'provider'} "${id}" is ${owner} and is read-only through the admin API`,
    );
  }
}

/** The built-in provider that stays available when the config file declares none. */
const BUILTIN_MOCK: ProviderConfig = providerSchema.parse({ keys: [{ name: 'default', value: 'mock-key' }] });

/**
 * Keeps this node's providers and virtual keys equal to the config store's:
 * a full load at start, then every change after the last applied version.
 * Shared store (PostgreSQL): pulled when a peer announces a new version on
 * gossip channel 1 (sub-second), and by polling the store's max version
 * every second as a safety net. Embedded store in a cluster (SQLite): the
 * store is this node's replica, kept equal to the peers' by the Replicator,
 * which wakes this up after every remote change. When the store is down the
 * last good config keeps serving and polling backs off until it answers.
 *
 * Entities the config file declares are file-owned: written to the store at
 * every start, read-only through the admin API, never replicated (each
 * node's own file decides them).
 */
export class ConfigSync {
  private readonly vks = new Map<string, VirtualKeyConfig>();
  private readonly providers = new Map<string, ProviderConfig>();
  private cursor = 0;
  private loaded = false;
  private up = false;
  private downSince = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private repoll = false;
  private closed = false;
  private channel: GossipChannel | undefined;
  private cluster: ClusterLike | undefined;
  private readonly gauge?: Gauge;
  private readonly pollMs: number;
  private lastError = '';
  private readonly fileOwned = new Set<string>();
  private replicator: Replicator | undefined;

  constructor(private readonly o: ConfigSyncOptions) {
    this.pollMs = o.pollIntervalMs ?? 1000;
    for (const vk of o.config.governance.virtual_keys) this.vks.set(vk.id, vk);
    for (const [name, p] of Object.entries(o.config.providers)) this.providers.set(name, p);
    for (const e of this.fileEntities()) this.fileOwned.add(`${e.kind}/${e.id}`);
    if (o.registry) {
      this.gauge = new Gauge({
        name: 'deepintshield_store_up',
        help: '1 when the config store answers, 0 when it does not',
        registers: [o.registry],
      });
      this.gauge.set(o.store ? 0 : 1);
    }
    if (!o.store) {
      this.loaded = true;
      this.up = true;
    }
  }

  /** Connects, migrates, seeds on first start and loads; never throws, never waits longer than startTimeoutMs. */
  async start(): Promise<void> {
    // The file (and the built-in mock) serve until the store has answered.
    this.publish();
    if (!this.o.store) {
      this.logEffective();
      return;
    }
    const first = this.firstLoad();
    const timeout = new Promise<void>((r) => setTimeout(r, this.o.startTimeoutMs ?? 5000).unref());
    await Promise.race([first, timeout]);
  }

  private async firstLoad(): Promise<void> {
    const store = this.o.store!;
    while (!this.closed) {
      try {
        await store.init();
        const applied = await store.applyFile(this.fileEntities());
        const names = (l: Array<{ kind: EntityKind; id: string }>) => l.map((e) => `${e.kind}:${e.id}`);
        this.o.logger.info(
          {
            source: this.o.configSource,
            created: names(applied.created),
            updated: names(applied.updated),
            removed: names(applied.removed),
            unchanged: applied.unchanged,
          },
          'config file applied',
        );
        await this.startReplication();
        await this.loadAll();
        this.loaded = true;
        this.markUp();
        this.publish();
        this.o.logger.info(
          {
            store: store.kind,
            version: this.cursor,
            virtual_keys: this.vks.size,
            providers: this.providers.size,
          },
          'config loaded from the config store',
        );
        this.logEffective();
        this.schedule(this.pollMs);
        return;
      } catch (err) {
        this.markDown(err);
        await new Promise((r) => setTimeout(r, this.backoff()).unref());
      }
    }
  }

  /** Reads the whole store into memory (first load, and after a replica was discarded). */
  private async loadAll(): Promise<void> {
    const store = this.o.store!;
    const rows = await store.changesSince(0);
    this.vks.clear();
    this.providers.clear();
    this.fileOwned.clear();
    for (const r of rows) this.fold(r);
    this.cursor = Math.max(await store.maxVersion(), ...rows.map((r) => r.version), 0);
  }

  /** Discards what is in memory and loads the store again, then applies it. */
  async reload(): Promise<void> {
    await this.loadAll();
    this.publish();
  }

  /** The effective names, never what the file merely said. */
  private logEffective(): void {
    const live = this.live();
    const providers = Object.keys(live.providers).sort();
    this.o.logger.info(
      { providers, virtual_keys: live.virtualKeys.map((k) => k.id).sort() },
      `live providers: ${providers.join(', ') || 'none'}`,
    );
  }

  /** With an embedded store in a cluster, the store is a replica kept equal to the peers'. */
  private async startReplication(): Promise<void> {
    const store = this.o.store;
    const cluster = this.cluster as ReplicationCluster | undefined;
    if (!cluster || !isReplicaStore(store) || this.replicator) return;
    const r = new Replicator({
      store,
      nodeName: cluster.localName,
      logger: this.o.logger,
      registry: this.o.registry,
      tombstoneRetentionMs: this.o.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS,
      validate: validateEntity,
      onChanged: () => this.pollNow(),
      onReset: () => this.reload(),
      onUsage: this.o.onReplicatedUsage,
    });
    await r.start();
    r.attach(cluster);
    this.replicator = r;
  }

  private fileEntities(): SeedEntity[] {
    const out: SeedEntity[] = [];
    for (const [name, p] of Object.entries(this.o.config.providers))
      out.push({ kind: 'provider', id: name, data: p as unknown as Record<string, unknown> });
    for (const vk of this.o.config.governance.virtual_keys)
      out.push({ kind: 'virtual_key', id: vk.id, data: vk as unknown as Record<string, unknown> });
    return out;
  }

  attachCluster(cluster: ClusterLike): void {
    this.cluster = cluster;
    // An embedded store is replicated (see startReplication); version announcements are for a shared store.
    if (isReplicaStore(this.o.store)) return;
    this.channel = cluster.channel(CHANNEL_CONFIG);
    this.channel.onMessage((payload) => {
      try {
        const m = JSON.parse(payload.toString('utf8')) as { v?: number };
        if (typeof m.v === 'number' && m.v > this.cursor) void this.pollNow();
      } catch {
        /* not ours */
      }
    });
    // Push/pull carries our version: a node that missed announcements catches up on the next exchange.
    this.channel.setLocalState(() => Buffer.from(JSON.stringify({ v: this.cursor })));
    this.channel.onRemoteState((buf) => {
      try {
        const m = JSON.parse(buf.toString('utf8')) as { v?: number };
        if (typeof m.v === 'number' && m.v > this.cursor) void this.pollNow();
      } catch {
        /* ignore */
      }
    });
  }

  get storeUp(): boolean {
    return this.up;
  }

  get version(): number {
    return this.cursor;
  }

  /** For /ready: undefined when this node has a config to serve. */
  readiness(): string | undefined {
    if (this.loaded) return this.replicator?.readiness();
    return `config store unreachable and no config loaded from it yet${this.lastError ? ` (${this.lastError})` : ''}`;
  }

  live(): LiveConfig {
    const providers = Object.fromEntries(this.providers);
    if (this.builtinMockLive()) providers.mock = BUILTIN_MOCK;
    return { providers, virtualKeys: [...this.vks.values()] };
  }

  /** The config file declares no providers and nothing else is named mock. */
  private builtinMockLive(): boolean {
    return Object.keys(this.o.config.providers).length === 0 && !this.providers.has('mock');
  }

  getVirtualKey(id: string): VirtualKeyConfig | undefined {
    return this.vks.get(id);
  }

  getProvider(name: string): ProviderConfig | undefined {
    return this.providers.get(name) ?? (name === 'mock' && this.builtinMockLive() ? BUILTIN_MOCK : undefined);
  }

  /** Who owns an entity, for the admin API: undefined when the admin API may change it. */
  owner(kind: EntityKind, id: string): string | undefined {
    if (this.declaredByFile(kind, id))
      return `declared in the config file ${this.o.configSource ?? ''}`.trimEnd();
    // Shared store: another node's file wrote it.
    if (this.fileOwned.has(`${kind}/${id}`)) return "declared in another node's config file";
    if (kind === 'provider' && id === 'mock' && this.builtinMockLive())
      return 'the built-in mock provider (the config file declares no providers; POST a provider named "mock" to replace it)';
    return undefined;
  }

  private declaredByFile(kind: EntityKind, id: string): boolean {
    return kind === 'virtual_key'
      ? this.o.config.governance.virtual_keys.some((k) => k.id === id)
      : Object.hasOwn(this.o.config.providers, id);
  }

  // ------------------------------------------------------------------ writes (admin API)

  /** Creates an admin-API entity (StoreConflictError when it exists, FileOwnedError when the file owns it). */
  create(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow | undefined> {
    // Creating a provider named "mock" replaces the built-in one; everything else the file owns is 409.
    if (kind === 'provider' && id === 'mock' && this.builtinMockLive())
      return this.write((store) => store.create(kind, id, data, this.replicator?.stamp()));
    return this.change(kind, id, (s, hlc) => s.create(kind, id, data, hlc));
  }

  /** Replaces an admin-API entity; undefined when there is none. */
  update(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow | undefined> {
    return this.change(kind, id, (s, hlc) => s.update(kind, id, data, hlc));
  }

  /** Deletes an admin-API entity (a tombstone); undefined when there is none. */
  delete(kind: EntityKind, id: string): Promise<StoreRow | undefined> {
    return this.change(kind, id, (s, hlc) => s.delete(kind, id, hlc));
  }

  private change(
    kind: EntityKind,
    id: string,
    op: (store: ConfigStore, hlc: string | undefined) => Promise<StoreRow | undefined>,
  ): Promise<StoreRow | undefined> {
    const owner = this.owner(kind, id);
    if (owner) return Promise.reject(new FileOwnedError(kind, id, owner));
    return this.write((store) => op(store, this.replicator?.stamp()));
  }

  /** Runs a store write, applies it here at once and sends it to the cluster. */
  private async write(
    op: (store: ConfigStore) => Promise<StoreRow | undefined>,
  ): Promise<StoreRow | undefined> {
    const store = this.o.store;
    if (!store) throw new StoreUnavailableError(new Error('no config store is enabled'));
    if (!this.loaded) throw new StoreUnavailableError(new Error(this.lastError || 'not loaded yet'));
    let row: StoreRow | undefined;
    try {
      row = await op(store);
    } catch (err) {
      if (err instanceof StoreConflictError) throw err;
      this.markDown(err);
      throw new StoreUnavailableError(err);
    }
    if (!row) return undefined;
    // Peers first: they apply it while we do.
    if (this.replicator) this.replicator.onLocalWrite(row);
    // Apply everything up to this version (other nodes' writes may sit below it).
    await this.pollNow().catch(() => undefined);
    if (this.cursor < row.version) {
      this.fold(row);
      this.publish();
    }
    if (!this.replicator) this.announce(row.version);
    return row;
  }

  /** Direct to every live peer (fastest), and queued on gossip (retransmitted, reaches late joiners). */
  private announce(version: number): void {
    const ch = this.channel;
    if (!ch || !this.cluster) return;
    const payload = Buffer.from(JSON.stringify({ v: version }));
    try {
      ch.broadcast(payload, 'config-version');
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'failed to broadcast');
    }
    for (const m of this.cluster.members()) {
      if (m.name === this.cluster.localName || (m.state !== 'alive' && m.state !== 'suspect')) continue;
      try {
        const r = ch.sendTo(m.name, payload);
        if (r && typeof (r as Promise<void>).catch === 'function')
          (r as Promise<void>).catch(() => undefined);
      } catch {
        /* the broadcast and the store poll cover it */
      }
    }
  }

  // ------------------------------------------------------------------ polling

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pollNow().finally(() => this.schedule(this.up ? this.pollMs : this.backoff()));
    }, ms);
    this.timer.unref();
  }

  private backoff(): number {
    return Math.min(this.o.maxBackoffMs ?? 10_000, this.pollMs * 2 ** Math.min(this.failures, 6));
  }

  /** Pulls every change after the cursor; coalesces concurrent calls. */
  pollNow(): Promise<void> {
    if (!this.o.store || !this.loaded) return Promise.resolve();
    if (this.polling) {
      this.repoll = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        do {
          this.repoll = false;
          await this.pollOnce();
        } while (this.repoll && !this.closed);
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const store = this.o.store!;
    try {
      const max = await store.maxVersion();
      if (max > this.cursor) {
        const rows = await store.changesSince(this.cursor);
        for (const r of rows) this.fold(r);
        this.cursor = Math.max(this.cursor, ...rows.map((r) => r.version));
        if (rows.length > 0) {
          this.publish();
          this.o.logger.debug({ version: this.cursor, changes: rows.length }, 'config changes applied');
        }
      }
      this.markUp();
    } catch (err) {
      this.markDown(err);
    }
  }

  private fold(r: StoreRow): void {
    const map: Map<string, unknown> = r.kind === 'virtual_key' ? this.vks : this.providers;
    const key = `${r.kind}/${r.id}`;
    if (r.origin === 'file' && !r.deleted) this.fileOwned.add(key);
    else this.fileOwned.delete(key);
    if (r.deleted || !r.data) {
      map.delete(r.id);
      return;
    }
    const parsed = (r.kind === 'virtual_key' ? virtualKeySchema : providerSchema).safeParse(r.data);
    if (!parsed.success) {
      this.o.logger.error(
        { kind: r.kind, id: r.id, version: r.version },
        'ignoring an invalid entity from the config store',
      );
      return;
    }
    map.set(r.id, parsed.data);
  }

  private publish(): void {
    try {
      this.o.apply(this.live());
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, 'failed to apply config');
    }
  }

  private markUp(): void {
    if (!this.up && this.o.store) {
      if (this.downSince)
        this.o.logger.info(
          { store: this.o.store.kind, down_ms: Date.now() - this.downSince },
          'config store is up again',
        );
    }
    this.up = true;
    this.failures = 0;
    this.downSince = 0;
    this.lastError = '';
    this.gauge?.set(1);
  }

  private markDown(err: unknown): void {
    this.failures++;
    this.lastError = (err as Error)?.message ?? String(err);
    this.gauge?.set(0);
    if (this.up || this.downSince === 0) {
      this.downSince = Date.now();
      this.o.logger.error(
        {
          store: this.o.store?.kind,
          err: this.lastError,
          serving: this.loaded ? 'last good config' : 'config file',
        },
        'config store is down',
      );
    }
    this.up = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.replicator?.close();
    await this.polling?.catch(() => undefined);
  }
}

export type { EntityKind };
