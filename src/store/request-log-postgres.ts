import pg from 'pg';
import {
  fromRow,
  LIST_COLUMNS,
  LOG_COLUMNS,
  type LogRow,
  type RequestLogEntry,
  type RequestLogQuery,
  type RequestLogStore,
  toRowValues,
  whereClause,
} from './request-log.js';

export interface PostgresRequestLogOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: 'disable' | 'require' | 'verify-full';
}

/** The request log's table and indexes; idempotent, run at every open. */
export async function migratePostgresRequestLog(db: pg.Pool): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS request_log (
    id TEXT PRIMARY KEY, time_ms BIGINT NOT NULL, node TEXT NOT NULL, request_id TEXT NOT NULL,
    route TEXT NOT NULL, virtual_key TEXT, provider TEXT NOT NULL, model TEXT NOT NULL,
    status INTEGER NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION,
    prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cost DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL, fallback_index INTEGER, error TEXT, stream BOOLEAN NOT NULL,
    request_body TEXT, response_body TEXT)`);
  await db.query('CREATE INDEX IF NOT EXISTS request_log_time ON request_log (time_ms DESC, id DESC)');
}

/** The request log in the cluster's shared PostgreSQL: one query answers for every node. */
export class PostgresRequestLogStore implements RequestLogStore {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool | undefined;

  constructor(private readonly o: PostgresRequestLogOptions) {}

  private get db(): pg.Pool {
    if (!this.pool) throw new Error('request log store is not open');
    return this.pool;
  }

  async init(): Promise<void> {
    if (this.pool) return;
    const pool = new pg.Pool({
      host: this.o.host,
      port: this.o.port,
      user: this.o.user,
      password: this.o.password,
      database: this.o.database,
      ssl: this.o.ssl === 'disable' ? false : { rejectUnauthorized: this.o.ssl === 'verify-full' },
      // Log writes are batched: two connections are plenty and leave the pool to the config store.
      max: 2,
      connectionTimeoutMillis: 5000,
      statement_timeout: 10_000,
    });
    pool.on('error', () => {}); // an idle client's error must not crash the process; the next query reports it
    try {
      await migratePostgresRequestLog(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    this.pool = pool;
  }

  async insert(entries: readonly RequestLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const e of entries) {
      const row = toRowValues(e);
      row[17] = e.stream; // BOOLEAN column
      const base = values.length;
      values.push(...row);
      tuples.push(`(${row.map((_, i) => `$${base + i + 1}`).join(', ')})`);
    }
    await this.db.query(
      `INSERT INTO request_log (${LOG_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`,
      values,
    );
  }

  async query(q: RequestLogQuery): Promise<RequestLogEntry[]> {
    const { sql, params } = whereClause(q, (i) => `$${i}`);
    const r = await this.db.query<LogRow>(
      `SELECT ${LIST_COLUMNS} FROM request_log ${sql} ORDER BY time_ms DESC, id DESC LIMIT $${params.length + 1}`,
      [...params, q.limit],
    );
    return r.rows.map(fromRow);
  }

  async get(id: string): Promise<RequestLogEntry | undefined> {
    const r = await this.db.query<LogRow>('SELECT * FROM request_log WHERE id = $1', [id]);
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  async prune(beforeMs: number): Promise<number> {
    const r = await this.db.query('DELETE FROM request_log WHERE time_ms < $1', [beforeMs]);
    return r.rowCount ?? 0;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.end();
  }
}
