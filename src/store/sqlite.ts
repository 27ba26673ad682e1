import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { supersedes } from '../cluster/replication/entity.js';
import { hlcWall } from '../cluster/replication/hlc.js';
import { MIGRATIONS } from './migrations.js';
import {
  type EntityKind,
  type EntityOrigin,
  type FileApplyResult,
  type ReplicaEntity,
  type ReplicaStore,
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
  hlc: string | null;
  origin: string;
}

function toRow(r: RawRow): StoreRow {
  return {
    kind: r.kind as EntityKind,
    id: r.id,
    version: Number(r.version),
    deleted: !!r.deleted,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    updatedAt: Number(r.updated_at),
    hlc: r.hlc,
    origin: r.origin === 'file' ? 'file' : 'api',
  };
}

/**
 * Embedded store: a single node's config, or, in a cluster, this node's full
 * replica of the cluster's config (merged by src/cluster/replication).
 */
export class SqliteStore implements ReplicaStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;

  constructor(private readonly path: string) {}

  /** Prepared statements by SQL text: preparing compiles the SQL, so it is done once per statement. */
  private readonly statements = new Map<string, Database.Statement>();

  private sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.conn.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('sqlite store is not open');
    return this.db;
  }

  async init(): Promise<void> {
    if (this.db) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
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
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  async ping(): Promise<void> {
    this.sql('SELECT 1').get();
  }

  async migrations(): Promise<number[]> {
    return (
      this.sql('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[]
    ).map((r) => r.version);
  }

  async maxVersion(): Promise<number> {
    const r = this.sql(`SELECT v FROM store_meta WHERE k = 'version'`).get() as { v: string };
    return Number(r.v);
  }

  async changesSince(version: number): Promise<StoreRow[]> {
    return (
      this.sql('SELECT * FROM entities WHERE version > ? ORDER BY version').all(version) as RawRow[]
    ).map(toRow);
  }

  async list(kind: EntityKind): Promise<StoreRow[]> {
    return (
      this.sql('SELECT * FROM entities WHERE kind = ? AND deleted = 0 ORDER BY id').all(kind) as RawRow[]
    ).map(toRow);
  }

  async get(kind: EntityKind, id: string): Promise<StoreRow | undefined> {
    const r = this.sql('SELECT * FROM entities WHERE kind = ? AND id = ? AND deleted = 0').get(kind, id) as
      | RawRow
      | undefined;
    return r ? toRow(r) : undefined;
  }

  private nextVersion(): number {
    const v = Number((this.sql(`SELECT v FROM store_meta WHERE k = 'version'`).get() as { v: string }).v) + 1;
    this.sql(`UPDATE store_meta SET v = ? WHERE k = 'version'`).run(String(v));
    return v;
  }

  private write(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown> | null,
    hlc: string | null,
    origin: EntityOrigin,
  ): StoreRow {
    const version = this.nextVersion();
    const now = Date.now();
    this.sql(
      `INSERT INTO entities (kind, id, version, deleted, data, updated_at, hlc, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
           data = excluded.data, updated_at = excluded.updated_at, hlc = excluded.hlc, origin = excluded.origin`,
    ).run(
      kind,
      id,
      version,
      data === null ? 1 : 0,
      data === null ? null : JSON.stringify(data),
      now,
      hlc,
      origin,
    );
    return { kind, id, version, deleted: data === null, data, updatedAt: now, hlc, origin };
  }

  private existing(kind: EntityKind, id: string): RawRow | undefined {
    return this.sql('SELECT * FROM entities WHERE kind = ? AND id = ?').get(kind, id) as RawRow | undefined;
  }

  async create(kind: EntityKind, id: string, data: Record<string, unknown>, hlc?: string): Promise<StoreRow> {
    return this.conn
      .transaction(() => {
        const existing = this.existing(kind, id);
        if (existing && !existing.deleted) throw new StoreConflictError(kind, id);
        return this.write(kind, id, data, hlc ?? null, 'api');
      })
      .immediate();
  }

  async update(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown>,
    hlc?: string,
  ): Promise<StoreRow | undefined> {
    return this.writeIfLive(kind, id, data, hlc);
  }

  async delete(kind: EntityKind, id: string, hlc?: string): Promise<StoreRow | undefined> {
    return this.writeIfLive(kind, id, null, hlc);
  }

  /** Writes a new version of an entity that exists and is not deleted; undefined otherwise. */
  private writeIfLive(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown> | null,
    hlc: string | undefined,
  ): StoreRow | undefined {
    return this.conn
      .transaction(() => {
        const existing = this.existing(kind, id);
        if (!existing || existing.deleted) return undefined;
        return this.write(kind, id, data, hlc ?? null, 'api');
      })
      .immediate();
  }

  async applyFile(entities: SeedEntity[]): Promise<FileApplyResult> {
    return this.conn
      .transaction(() => {
        const result: FileApplyResult = { created: [], updated: [], removed: [], unchanged: 0 };
        const declared = new Set(entities.map((e) => `${e.kind}/${e.id}`));
        for (const e of entities) {
          const cur = this.existing(e.kind, e.id);
          const json = JSON.stringify(e.data);
          if (cur && !cur.deleted && cur.origin === 'file' && cur.data === json) {
            result.unchanged++;
            continue;
          }
          this.write(e.kind, e.id, e.data, null, 'file');
          (cur && !cur.deleted ? result.updated : result.created).push(e);
        }
        const fileRows = this.sql(`SELECT kind, id FROM entities WHERE origin = 'file'`).all() as Array<{
          kind: EntityKind;
          id: string;
        }>;
        for (const r of fileRows) {
          if (declared.has(`${r.kind}/${r.id}`)) continue;
          // Never replicated, so no tombstone is needed; a write bumps the change feed for pollers.
          this.sql('DELETE FROM entities WHERE kind = ? AND id = ?').run(r.kind, r.id);
          result.removed.push(r);
        }
        return result;
      })
      .immediate();
  }

  // ------------------------------------------------------------------ replica

  async versions(): Promise<
    Array<{ kind: EntityKind; id: string; hlc: string | null; origin: EntityOrigin }>
  > {
    return (
      this.sql('SELECT kind, id, hlc, origin FROM entities').all() as Array<{
        kind: EntityKind;
        id: string;
        hlc: string | null;
        origin: string;
      }>
    ).map((r) => ({ ...r, origin: r.origin === 'file' ? 'file' : 'api' }));
  }

  async rows(keys: Array<{ kind: EntityKind; id: string }>): Promise<StoreRow[]> {
    const stmt = this.sql('SELECT * FROM entities WHERE kind = ? AND id = ?');
    const out: StoreRow[] = [];
    for (const k of keys) {
      const r = stmt.get(k.kind, k.id) as RawRow | undefined;
      if (r) out.push(toRow(r));
    }
    return out;
  }

  async applyRemote(entities: ReplicaEntity[]): Promise<StoreRow[]> {
    // A peer holds these versions too, so a power loss that drops this commit is repaired by
    // anti-entropy: no fsync on the replication path (local admin writes keep synchronous = FULL).
    this.conn.pragma('synchronous = NORMAL');
    try {
      return this.applyRemoteTx(entities);
    } finally {
      this.conn.pragma('synchronous = FULL');
    }
  }

  private applyRemoteTx(entities: ReplicaEntity[]): StoreRow[] {
    return this.conn
      .transaction(() => {
        const written: StoreRow[] = [];
        for (const e of entities) {
          const cur = this.existing(e.kind, e.id);
          if (cur?.origin === 'file') continue;
          const incoming = { kind: e.kind, id: e.id, hlc: e.hlc, deleted: e.deleted, data: e.data };
          const current = cur?.hlc
            ? {
                kind: cur.kind,
                id: cur.id,
                hlc: cur.hlc,
                deleted: !!cur.deleted,
                data: cur.data === null ? null : (JSON.parse(cur.data) as Record<string, unknown>),
              }
            : undefined;
          if (!supersedes(incoming, current)) continue;
          written.push(this.write(e.kind, e.id, e.deleted ? null : e.data, e.hlc, 'api'));
        }
        return written;
      })
      .immediate();
  }

  async collectTombstones(beforeMs: number): Promise<Array<{ kind: EntityKind; id: string }>> {
    return this.conn
      .transaction(() => {
        const rows = this.sql(
          `SELECT kind, id, hlc FROM entities WHERE deleted = 1 AND origin = 'api'`,
        ).all() as Array<{ kind: EntityKind; id: string; hlc: string | null }>;
        const gone = rows.filter((r) => r.hlc !== null && hlcWall(r.hlc) < beforeMs);
        const del = this.sql('DELETE FROM entities WHERE kind = ? AND id = ?');
        for (const r of gone) del.run(r.kind, r.id);
        return gone.map(({ kind, id }) => ({ kind, id }));
      })
      .immediate();
  }

  async wipeReplica(): Promise<number> {
    return this.sql(`DELETE FROM entities WHERE origin = 'api'`).run().changes;
  }

  async backfillHlc(hlcFor: (updatedAt: number) => string): Promise<number> {
    return this.conn
      .transaction(() => {
        const rows = this.sql(
          `SELECT kind, id, updated_at FROM entities WHERE origin = 'api' AND hlc IS NULL`,
        ).all() as Array<{ kind: string; id: string; updated_at: number }>;
        const set = this.sql('UPDATE entities SET hlc = ? WHERE kind = ? AND id = ?');
        for (const r of rows) set.run(hlcFor(Number(r.updated_at)), r.kind, r.id);
        return rows.length;
      })
      .immediate();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const r = this.sql('SELECT v FROM store_meta WHERE k = ?').get(`meta:${key}`) as
      | { v: string }
      | undefined;
    return r?.v;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.sql('INSERT INTO store_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v').run(
      `meta:${key}`,
      value,
    );
  }

  async saveUsage(rows: UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    const stmt = this.sql(
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
      this.sql('SELECT counter, window_start, node, value FROM usage_counters WHERE window_start >= ?').all(
        sinceWindowStart,
      ) as { counter: string; window_start: number; node: string; value: number }[]
    ).map((r) => ({
      counter: r.counter,
      windowStart: Number(r.window_start),
      node: r.node,
      value: Number(r.value),
    }));
  }

  async pruneUsage(beforeWindowStart: number): Promise<number> {
    return this.sql('DELETE FROM usage_counters WHERE window_start < ?').run(beforeWindowStart).changes;
  }
}
