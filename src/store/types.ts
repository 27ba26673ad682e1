/**
 * The config store: virtual keys and providers (the source of truth after the
 * first start), plus persisted usage counters. One interface, two
 * implementations (embedded SQLite, PostgreSQL for clusters).
 *
 * Every write takes the next value of one store-wide sequence, so "everything
 * after version V" is a complete change feed; deletions leave tombstones so a
 * node that missed an announcement cannot resurrect a deleted entity.
 */

export type EntityKind = 'virtual_key' | 'provider';
export const ENTITY_KINDS: readonly EntityKind[] = ['virtual_key', 'provider'];

export interface StoreRow {
  kind: EntityKind;
  id: string;
  /** Store-wide sequence number of the last write to this row. */
  version: number;
  deleted: boolean;
  /** The entity as in the config file (null for tombstones). */
  data: Record<string, unknown> | null;
  updatedAt: number;
  /** Hybrid-logical-clock version (replicated SQLite mode); null for file-owned and legacy rows. */
  hlc: string | null;
  /** Who owns the entity: the config file (read-only through the admin API) or the admin API. */
  origin: EntityOrigin;
}

export type EntityOrigin = 'file' | 'api';

/** What applying the config file changed, by entity. */
export interface FileApplyResult {
  created: SeedEntity[];
  updated: SeedEntity[];
  /** File-owned entities the file no longer declares (removed from the store). */
  removed: Array<{ kind: EntityKind; id: string }>;
  unchanged: number;
}

/** One node's grow-only count for one counter window (a G-counter slot). */
export interface UsageRow {
  counter: string;
  windowStart: number;
  node: string;
  value: number;
}

export interface SeedEntity {
  kind: EntityKind;
  id: string;
  data: Record<string, unknown>;
}

export class StoreConflictError extends Error {
  constructor(
    readonly kind: EntityKind,
    readonly id: string,
  ) {
    super(`${kind} "${id}" already exists`);
  }
}

export interface ConfigStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Connects and applies pending migrations. Safe to call again after a failure. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Cheap liveness query. */
  ping(): Promise<void>;
  /** Applied migration versions, ascending. */
  migrations(): Promise<number[]>;
  /** Highest version written so far (0 for an empty store). */
  maxVersion(): Promise<number>;
  /** Every row (tombstones included) written after `version`, ascending by version. */
  changesSince(version: number): Promise<StoreRow[]>;
  /** Live rows of one kind. */
  list(kind: EntityKind): Promise<StoreRow[]>;
  /** A live row, or undefined (tombstones are not returned). */
  get(kind: EntityKind, id: string): Promise<StoreRow | undefined>;
  /**
   * Creates a row; throws StoreConflictError when a live row with that id exists. A tombstone may be
   * re-created. `hlc`: the write's replication version, when the store is a replica.
   */
  create(kind: EntityKind, id: string, data: Record<string, unknown>, hlc?: string): Promise<StoreRow>;
  /** Replaces a live row; undefined when there is none. */
  update(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown>,
    hlc?: string,
  ): Promise<StoreRow | undefined>;
  /** Turns a live row into a tombstone; undefined when there is none. */
  delete(kind: EntityKind, id: string, hlc?: string): Promise<StoreRow | undefined>;
  /**
   * Makes the store hold exactly what the config file declares as file-owned rows: creates or updates
   * each (taking over an admin-API row with the same id) and removes file-owned rows the file no
   * longer declares. Unchanged rows are not rewritten.
   */
  applyFile(entities: SeedEntity[]): Promise<FileApplyResult>;
  /** Upserts usage slots, keeping the larger value (G-counter merge). */
  saveUsage(rows: UsageRow[]): Promise<void>;
  /** Usage slots of windows starting at or after `sinceWindowStart`. */
  loadUsage(sinceWindowStart: number): Promise<UsageRow[]>;
  /** Removes usage of windows that ended long ago. */
  pruneUsage(beforeWindowStart: number): Promise<number>;
}

/** A versioned remote entity for a replica (see src/cluster/replication). */
export interface ReplicaEntity {
  kind: EntityKind;
  id: string;
  hlc: string;
  deleted: boolean;
  data: Record<string, unknown> | null;
}

/**
 * A store that is this node's full replica of the cluster's config (SQLite):
 * remote versions are merged last-writer-wins by HLC, never over file-owned rows.
 */
export interface ReplicaStore extends ConfigStore {
  /** Every row's key, version and origin, tombstones included. */
  versions(): Promise<Array<{ kind: EntityKind; id: string; hlc: string | null; origin: EntityOrigin }>>;
  /** Rows by key, tombstones included. */
  rows(keys: Array<{ kind: EntityKind; id: string }>): Promise<StoreRow[]>;
  /** Applies each entity whose HLC is newer than the stored one (admin-API rows only); returns the rows written. */
  applyRemote(entities: ReplicaEntity[]): Promise<StoreRow[]>;
  /** Hard-deletes tombstones whose HLC wall time is before `beforeMs`; returns their keys. */
  collectTombstones(beforeMs: number): Promise<Array<{ kind: EntityKind; id: string }>>;
  /** Drops every admin-API row and tombstone (full resync); returns how many. */
  wipeReplica(): Promise<number>;
  /** Gives legacy admin-API rows (written before replication) a version; returns how many. */
  backfillHlc(hlcFor: (updatedAt: number) => string): Promise<number>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}

export function isReplicaStore(s: ConfigStore | undefined): s is ReplicaStore {
  return !!s && typeof (s as Partial<ReplicaStore>).applyRemote === 'function';
}
