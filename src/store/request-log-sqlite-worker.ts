import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs the request log's SQLite INSERTs on a worker thread, so a batch write
 * never holds the event loop that serves requests. The worker is plain
 * CommonJS evaluated from a string (no build step, the same under the test
 * runner and from dist/); it opens its own connection to the same file.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
const one = db.prepare(workerData.insertOne);
const many = db.prepare(workerData.insertMany);
const per = workerData.perStatement;
const write = db.transaction((rows) => {
  let i = 0;
  for (; i + per <= rows.length; i += per) many.run(rows.slice(i, i + per).flat());
  for (; i < rows.length; i++) one.run(rows[i]);
});
parentPort.on('message', (m) => {
  if (m.close) { db.close(); parentPort.postMessage({ closed: true }); return; }
  try { write(m.rows); parentPort.postMessage({ id: m.id }); }
  catch (e) { parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) }); }
});
`;

export interface SqliteWriterThreadOptions {
  path: string;
  insertOne: string;
  insertMany: string;
  perStatement: number;
}

export class SqliteWriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private seq = 0;
  private readonly inflight = new Set<Promise<void>>();
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(o: SqliteWriterThreadOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...o, driver } });
    this.worker.unref();
    this.worker.on('message', (m: { id?: number; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error));
      else p?.resolve();
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('request log writer thread exited')));
  }

  /** Rows in LOG_COLUMNS order. */
  write(rows: unknown[][]): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = ++this.seq;
    const done = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, rows });
    });
    this.inflight.add(done);
    const forget = () => this.inflight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Waits for the writes already sent, closes the worker's connection, ends the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inflight]);
      if (!this.dead) {
        const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
        const closed = new Promise<void>((r) => this.worker.once('message', () => r()));
        this.worker.postMessage({ close: true });
        await Promise.race([closed, exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
