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
  /** Creates a row; throws StoreConflictError when a live row with that id exists. A tombstone may be re-created. */
  create(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow>;
  /** Replaces a live row; undefined when there is none. */
  update(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow | undefined>;
  /** Turns a live row into a tombstone; undefined when there is none. */
  delete(kind: EntityKind, id: string): Promise<StoreRow | undefined>;
  /**
   * Writes `entities` only if the store was never seeded (first start of the
   * first node). Returns true when this call seeded it.
   */
  seedIfEmpty(entities: SeedEntity[]): Promise<boolean>;
  /** Upserts usage slots, keeping the larger value (G-counter merge). */
  saveUsage(rows: UsageRow[]): Promise<void>;
  /** Usage slots of windows starting at or after `sinceWindowStart`. */
  loadUsage(sinceWindowStart: number): Promise<UsageRow[]>;
  /** Removes usage of windows that ended long ago. */
  pruneUsage(beforeWindowStart: number): Promise<number>;
}
