import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  fromRow,
  LIST_COLUMNS,
  LOG_COLUMNS,
  type LogRow,
  type RequestLogEntry,
  type RequestLogQuery,
  type RequestLogStore,
  timeOfId,
  toRowValues,
  whereClause,
} from './request-log.js';
import { SqliteWriterThread } from './request-log-sqlite-worker.js';

/** The request log's table and indexes; idempotent, run at every open. */
export function migrateSqliteRequestLog(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS request_log (
    id TEXT NOT NULL, time_ms INTEGER NOT NULL, node TEXT NOT NULL, request_id TEXT NOT NULL,
    route TEXT NOT NULL, virtual_key TEXT, provider TEXT NOT NULL, model TEXT NOT NULL,
    status INTEGER NOT NULL, latency_ms REAL NOT NULL, ttft_ms REAL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, cost REAL NOT NULL, attempts INTEGER NOT NULL,
    fallback_index INTEGER, error TEXT, stream INTEGER NOT NULL, request_body TEXT, response_body TEXT,
    PRIMARY KEY (time_ms, id)) WITHOUT ROWID`);
}

/** Rows per INSERT statement: one statement per row costs more than the row itself. */
const ROWS_PER_STATEMENT = 32;

/**
 * The request log in the node's own SQLite file, on a connection of its own
 * (WAL lets it write beside the config store's connection).
 */
export class SqliteRequestLogStore implements RequestLogStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;
  private insertStmt: Database.Statement | undefined;
  private insertManyStmt: Database.Statement | undefined;

  private thread: SqliteWriterThread | undefined;

  /**
   * `writes: 'thread'` (the node's choice for a file) runs INSERTs on a worker thread; 'inline' runs them on
   * the caller's thread (':memory:' must, as a second connection would see another database).
   */
  constructor(
    private readonly path: string,
    private readonly writes: 'thread' | 'inline' = 'inline',
  ) {}

  private get conn(): Database.Database {
    if (!this.db) throw new Error('request log store is not open');
    return this.db;
  }

  async init(): Promise<void> {
    if (this.db) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    // A lost last batch on power failure is acceptable for a log; an fsync per batch is not.
    db.pragma('synchronous = NORMAL');
    migrateSqliteRequestLog(db);
    const tuple = `(${LOG_COLUMNS.map(() => '?').join(', ')})`;
    const insert = `INSERT OR IGNORE INTO request_log (${LOG_COLUMNS.join(', ')}) VALUES `;
    this.insertStmt = db.prepare(insert + tuple);
    const insertMany = insert + Array(ROWS_PER_STATEMENT).fill(tuple).join(', ');
    this.insertManyStmt = db.prepare(insertMany);
    if (this.writes === 'thread' && this.path !== ':memory:')
      this.thread = new SqliteWriterThread({
        path: this.path,
        insertOne: insert + tuple,
        insertMany,
        perStatement: ROWS_PER_STATEMENT,
      });
    this.db = db;
  }

  async insert(entries: readonly RequestLogEntry[]): Promise<void> {
    const one = this.insertStmt;
    const many = this.insertManyStmt;
    if (!one || !many) throw new Error('request log store is not open');
    if (this.thread) return this.thread.write(entries.map(toRowValues));
    this.conn.transaction(() => {
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= entries.length; i += ROWS_PER_STATEMENT) {
        const params: unknown[] = [];
        for (let k = i; k < i + ROWS_PER_STATEMENT; k++) params.push(...toRowValues(entries[k]!));
        many.run(params);
      }
      for (; i < entries.length; i++) one.run(toRowValues(entries[i]!));
    })();
  }

  async query(q: RequestLogQuery): Promise<RequestLogEntry[]> {
    const { sql, params } = whereClause(q, () => '?');
    const rows = this.conn
      .prepare(`SELECT ${LIST_COLUMNS} FROM request_log ${sql} ORDER BY time_ms DESC, id DESC LIMIT ?`)
      .all(...params, q.limit) as LogRow[];
    return rows.map(fromRow);
  }

  async get(id: string): Promise<RequestLogEntry | undefined> {
    const timeMs = timeOfId(id);
    if (timeMs === undefined) return undefined;
    const row = this.conn.prepare('SELECT * FROM request_log WHERE time_ms = ? AND id = ?').get(timeMs, id) as
      | LogRow
      | undefined;
    return row ? fromRow(row) : undefined;
  }

  async prune(beforeMs: number): Promise<number> {
    return this.conn.prepare('DELETE FROM request_log WHERE time_ms < ?').run(beforeMs).changes;
  }

  async close(): Promise<void> {
    const thread = this.thread;
    this.thread = undefined;
    await thread?.close();
    this.db?.close();
    this.db = undefined;
    this.insertStmt = undefined;
    this.insertManyStmt = undefined;
  }
}
