import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import {
  type ConfigStore,
  type EntityKind,
  type SeedEntity,
  StoreConflictError,
  type StoreRow,
  type UsageRow,
} from './types.js';

interface RawRow {
  kind: string;
  id: string;
  version: number;
  deleted: number;
  data: string | null;
  updated_at: number;
}

function toRow(r: RawRow): StoreRow {
  return {
    kind: r.kind as EntityKind,
    id: r.id,
    version: Number(r.version),
    deleted: !!r.deleted,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    updatedAt: Number(r.updated_at),
  };
}

/** Embedded store for a single node (or a cluster where each node keeps its own config). */
export class SqliteStore implements ConfigStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;

  constructor(private readonly path: string) {}

  private get conn(): Database.Database {
    if (!this.db) throw new Error('sqlite store is not open');
    return this.db;
  }

  async init(): Promise<void> {
    if (this.db) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
    );
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.transaction(() => {
        for (const sql of m.sqlite) db.exec(sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          m.version,
          m.name,
          Date.now(),
        );
      }).immediate();
    }
    this.db = db;
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }

  async ping(): Promise<void> {
    this.conn.prepare('SELECT 1').get();
  }

  async migrations(): Promise<number[]> {
    return (
      this.conn.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[]
    ).map((r) => r.version);
  }

  async maxVersion(): Promise<number> {
    const r = this.conn.prepare(`SELECT v FROM store_meta WHERE k = 'version'`).get() as { v: string };
    return Number(r.v);
  }

  async changesSince(version: number): Promise<StoreRow[]> {
    return (
      this.conn.prepare('SELECT * FROM entities WHERE version > ? ORDER BY version').all(version) as RawRow[]
    ).map(toRow);
  }

  async list(kind: EntityKind): Promise<StoreRow[]> {
    return (
      this.conn
        .prepare('SELECT * FROM entities WHERE kind = ? AND deleted = 0 ORDER BY id')
        .all(kind) as RawRow[]
    ).map(toRow);
  }

  async get(kind: EntityKind, id: string): Promise<StoreRow | undefined> {
    const r = this.conn
      .prepare('SELECT * FROM entities WHERE kind = ? AND id = ? AND deleted = 0')
      .get(kind, id) as RawRow | undefined;
    return r ? toRow(r) : undefined;
  }

  private nextVersion(): number {
    const db = this.conn;
    const v =
      Number((db.prepare(`SELECT v FROM store_meta WHERE k = 'version'`).get() as { v: string }).v) + 1;
    db.prepare(`UPDATE store_meta SET v = ? WHERE k = 'version'`).run(String(v));
    return v;
  }

  private write(kind: EntityKind, id: string, data: Record<string, unknown> | null): StoreRow {
    const version = this.nextVersion();
    const now = Date.now();
    this.conn
      .prepare(
        `INSERT INTO entities (kind, id, version, deleted, data, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
           data = excluded.data, updated_at = excluded.updated_at`,
      )
      .run(kind, id, version, data === null ? 1 : 0, data === null ? null : JSON.stringify(data), now);
    return { kind, id, version, deleted: data === null, data, updatedAt: now };
  }

  async create(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow> {
    return this.conn
      .transaction(() => {
        const existing = this.conn
          .prepare('SELECT deleted FROM entities WHERE kind = ? AND id = ?')
          .get(kind, id) as { deleted: number } | undefined;
        if (existing && !existing.deleted) throw new StoreConflictError(kind, id);
        return this.write(kind, id, data);
      })
      .immediate();
  }

  async update(kind: EntityKind, id: string, data: Record<string, unknown>): Promise<StoreRow | undefined> {
    return this.writeIfLive(kind, id, data);
  }

  async delete(kind: EntityKind, id: string): Promise<StoreRow | undefined> {
    return this.writeIfLive(kind, id, null);
  }

  /** Writes a new version of an entity that exists and is not deleted; undefined otherwise. */
  private writeIfLive(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown> | null,
  ): StoreRow | undefined {
    return this.conn
      .transaction(() => {
        const existing = this.conn
          .prepare('SELECT deleted FROM entities WHERE kind = ? AND id = ?')
          .get(kind, id) as { deleted: number } | undefined;
        if (!existing || existing.deleted) return undefined;
        return this.write(kind, id, data);
      })
      .immediate();
  }

  async seedIfEmpty(entities: SeedEntity[]): Promise<boolean> {
    return this.conn
      .transaction(() => {
        const seeded = this.conn.prepare(`SELECT v FROM store_meta WHERE k = 'seeded'`).get();
        if (seeded) return false;
        for (const e of entities) this.write(e.kind, e.id, e.data);
        this.conn.prepare(`INSERT INTO store_meta (k, v) VALUES ('seeded', ?)`).run(String(Date.now()));
        return true;
      })
      .immediate();
  }

  async saveUsage(rows: UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    const stmt = this.conn.prepare(
      `INSERT INTO usage_counters (counter, window_start, node, value, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (counter, window_start, node) DO UPDATE SET value = MAX(value, excluded.value), updated_at = excluded.updated_at`,
    );
    const now = Date.now();
    this.conn.transaction(() => {
      for (const r of rows) stmt.run(r.counter, r.windowStart, r.node, r.value, now);
    })();
  }

  async loadUsage(sinceWindowStart: number): Promise<UsageRow[]> {
    return (
      this.conn
        .prepare('SELECT counter, window_start, node, value FROM usage_counters WHERE window_start >= ?')
        .all(sinceWindowStart) as { counter: string; window_start: number; node: string; value: number }[]
    ).map((r) => ({
      counter: r.counter,
      windowStart: Number(r.window_start),
      node: r.node,
      value: Number(r.value),
    }));
  }

  async pruneUsage(beforeWindowStart: number): Promise<number> {
    return this.conn.prepare('DELETE FROM usage_counters WHERE window_start < ?').run(beforeWindowStart)
      .changes;
  }
}
