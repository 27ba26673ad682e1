import pg from 'pg';
import { MIGRATIONS } from './migrations.js';
import {
  type ConfigStore,
  type EntityKind,
  type EntityOrigin,
  type FileApplyResult,
  type SeedEntity,
  StoreConflictError,
  type StoreRow,
  type UsageRow,
} from './types.js';

export interface PostgresStoreOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: 'disable' | 'require' | 'verify-full';
  /** Connect timeout per attempt; the caller retries with backoff. */
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

interface RawRow {
  kind: string;
  id: string;
  version: string | number;
  deleted: boolean;
  data: string | null;
  updated_at: string | number;
  hlc: string | null;
  origin: string;
}

function toRow(r: RawRow): StoreRow {
  return {
    kind: r.kind as EntityKind,
    id: r.id,
    version: Number(r.version),
    deleted: r.deleted,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    updatedAt: Number(r.updated_at),
    hlc: r.hlc,
    origin: r.origin === 'file' ? 'file' : 'api',
  };
}

/** Arbitrary constant for pg_advisory_xact_lock: serialises migrations of nodes starting together. */
const MIGRATION_LOCK = 0x0de1_5e1d;

/**
 * Shared store for clusters. Writers serialise on the `version` row
 * (SELECT ... FOR UPDATE), so versions commit in order and a reader that
 * saw version V has seen every write below V: no lost updates for pollers.
 */
export class PostgresStore implements ConfigStore {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool | undefined;
  private migrated = false;

  constructor(private readonly opts: PostgresStoreOptions) {}

  private getPool(): pg.Pool {
    if (!this.pool) {
      const o = this.opts;
      this.pool = new pg.Pool({
        host: o.host,
        port: o.port,
        user: o.user,
        password: o.password,
        database: o.database,
        ssl: o.ssl === 'disable' ? false : { rejectUnauthorized: o.ssl === 'verify-full' },
        max: 4,
        connectionTimeoutMillis: o.connectTimeoutMs ?? 2000,
        query_timeout: o.queryTimeoutMs ?? 5000,
        idleTimeoutMillis: 10_000,
      });
      // An idle client losing its connection (server restart) must not crash the process.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.getPool().connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async init(): Promise<void> {
    if (this.migrated) return;
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
      );
      const applied = new Set(
        (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
      );
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        for (const sql of m.postgres) await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
    });
    this.migrated = true;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.end().catch(() => undefined);
  }

  async ping(): Promise<void> {
    await this.getPool().query('SELECT 1');
  }

  async migrations(): Promise<number[]> {
    return (await this.getPool().query('SELECT version FROM schema_migrations ORDER BY version')).rows.map(
      (r) => Number(r.version),
    );
  }

  async maxVersion(): Promise<number> {
    const r = await this.getPool().query(`SELECT v FROM store_meta WHERE k = 'version'`);
    return Number(r.rows[0].v);
  }

  async changesSince(version: number): Promise<StoreRow[]> {
    return (
      await this.getPool().query('SELECT * FROM entities WHERE version > $1 ORDER BY version', [version])
    ).rows.map(toRow);
  }

  async list(kind: EntityKind): Promise<StoreRow[]> {
    return (
      await this.getPool().query('SELECT * FROM entities WHERE kind = $1 AND NOT deleted ORDER BY id', [kind])
    ).rows.map(toRow);
  }

  async get(kind: EntityKind, id: string): Promise<StoreRow | undefined> {
    const r = await this.getPool().query(
      'SELECT * FROM entities WHERE kind = $1 AND id = $2 AND NOT deleted',
      [kind, id],
    );
    return r.rows[0] ? toRow(r.rows[0]) : undefined;
  }

  private async lockVersion(c: pg.PoolClient): Promise<number> {
    const r = await c.query(`SELECT v FROM store_meta WHERE k = 'version' FOR UPDATE`);
    return Number(r.rows[0].v);
  }

  private async write(
    c: pg.PoolClient,
    current: number,
    kind: EntityKind,
    id: string,
    data: Record<string, unknown> | null,
    hlc: string | null = null,
    origin: EntityOrigin = 'api',
  ): Promise<StoreRow> {
    const version = current + 1;
    const now = Date.now();
    await c.query(`UPDATE store_meta SET v = $1 WHERE k = 'version'`, [String(version)]);
    await c.query(
      `INSERT INTO entities (kind, id, version, deleted, data, updated_at, hlc, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (kind, id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted,
         data = EXCLUDED.data, updated_at = EXCLUDED.updated_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin`,
      [kind, id, version, data === null, data === null ? null : JSON.stringify(data), now, hlc, origin],
    );
    return { kind, id, version, deleted: data === null, data, updatedAt: now, hlc, origin };
  }

  private async existing(
    c: pg.PoolClient,
    kind: EntityKind,
    id: string,
  ): Promise<{ deleted: boolean; data: string | null; origin: string } | undefined> {
    return (
      await c.query('SELECT deleted, data, origin FROM entities WHERE kind = $1 AND id = $2', [kind, id])
    ).rows[0];
  }

  async create(kind: EntityKind, id: string, data: Record<string, unknown>, hlc?: string): Promise<StoreRow> {
    return this.tx(async (c) => {
      const v = await this.lockVersion(c);
      const e = await this.existing(c, kind, id);
      if (e && !e.deleted) throw new StoreConflictError(kind, id);
      return this.write(c, v, kind, id, data, hlc);
    });
  }

  async update(
    kind: EntityKind,
    id: string,
    data: Record<string, unknown>,
    hlc?: string,
  ): Promise<StoreRow | undefined> {
    return this.tx(async (c) => {
      const v = await this.lockVersion(c);
      const e = await this.existing(c, kind, id);
      if (!e || e.deleted) return undefined;
      return this.write(c, v, kind, id, data, hlc);
    });
  }

  async delete(kind: EntityKind, id: string, hlc?: string): Promise<StoreRow | undefined> {
    return this.tx(async (c) => {
      const v = await this.lockVersion(c);
      const e = await this.existing(c, kind, id);
      if (!e || e.deleted) return undefined;
      return this.write(c, v, kind, id, null, hlc);
    });
  }

  async applyFile(entities: SeedEntity[]): Promise<FileApplyResult> {
    return this.tx(async (c) => {
      let v = await this.lockVersion(c);
      const result: FileApplyResult = { created: [], updated: [], removed: [], unchanged: 0 };
      const declared = new Set(entities.map((e) => `${e.kind}/${e.id}`));
      for (const e of entities) {
        const cur = await this.existing(c, e.kind, e.id);
        if (cur && !cur.deleted && cur.origin === 'file' && cur.data === JSON.stringify(e.data)) {
          result.unchanged++;
          continue;
        }
        v = (await this.write(c, v, e.kind, e.id, e.data, null, 'file')).version;
        (cur && !cur.deleted ? result.updated : result.created).push(e);
      }
      const fileRows = (await c.query(`SELECT kind, id FROM entities WHERE origin = 'file' AND NOT deleted`))
        .rows as Array<{ kind: EntityKind; id: string }>;
      for (const r of fileRows) {
        if (declared.has(`${r.kind}/${r.id}`)) continue;
        // A tombstone, so the other nodes polling the shared store see the removal.
        v = (await this.write(c, v, r.kind, r.id, null)).version;
        result.removed.push({ kind: r.kind, id: r.id });
      }
      return result;
    });
  }

  async saveUsage(rows: UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    const now = Date.now();
    await this.tx(async (c) => {
      // Batches of 200 rows per statement.
      for (let i = 0; i < rows.length; i += 200) {
        const batch = rows.slice(i, i + 200);
        const params: unknown[] = [];
        const values = batch.map((r, j) => {
          params.push(r.counter, r.windowStart, r.node, r.value, now);
          const b = j * 5;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`;
        });
        await c.query(
          `INSERT INTO usage_counters (counter, window_start, node, value, updated_at) VALUES ${values.join(', ')}
           ON CONFLICT (counter, window_start, node) DO UPDATE
             SET value = GREATEST(usage_counters.value, EXCLUDED.value), updated_at = EXCLUDED.updated_at`,
          params,
        );
      }
    });
  }

  async loadUsage(sinceWindowStart: number): Promise<UsageRow[]> {
    const r = await this.getPool().query(
      'SELECT counter, window_start, node, value FROM usage_counters WHERE window_start >= $1',
      [sinceWindowStart],
    );
    return r.rows.map((x) => ({
      counter: x.counter,
      windowStart: Number(x.window_start),
      node: x.node,
      value: Number(x.value),
    }));
  }

  async pruneUsage(beforeWindowStart: number): Promise<number> {
    return (
      (await this.getPool().query('DELETE FROM usage_counters WHERE window_start < $1', [beforeWindowStart]))
        .rowCount ?? 0
    );
  }
}
