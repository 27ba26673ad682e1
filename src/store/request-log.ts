/**
 * The request log: one row per finished inference request. Kept apart from
 * the config store's entities (its own table, its own migration, its own
 * connection) so that log writes never contend with config writes and the
 * config store's schema stays the replication layer's business.
 */

/** One request-log entry in the contract's shape (GET /api/logs). */
export interface RequestLogEntry {
  /** Time-sortable unique id. */
  id: string;
  /** ISO 8601, when the request arrived. */
  time: string;
  node: string;
  request_id: string;
  route: string;
  /** Virtual key id, never its value. */
  virtual_key: string | null;
  provider: string;
  model: string;
  status: number;
  latency_ms: number;
  ttft_ms: number | null;
  tokens: { prompt: number; completion: number };
  cost: number;
  attempts: number;
  fallback_index: number | null;
  error: string | null;
  stream: boolean;
  request_body?: string;
  response_body?: string;
}

/** Position after which a page starts: entries strictly older than (timeMs, id). */
export interface LogCursor {
  timeMs: number;
  id: string;
}

export interface RequestLogQuery {
  limit: number;
  before?: LogCursor;
  provider?: string;
  model?: string;
  /** Exact status, or a class: 2 = 2xx, 4 = 4xx, 5 = 5xx. */
  status?: { exact: number } | { class: number };
  virtual_key?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
}

export interface RequestLogStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Opens the connection and applies the request log's own migration. */
  init(): Promise<void>;
  insert(entries: readonly RequestLogEntry[]): Promise<void>;
  /** Newest first: time descending, then id descending. Bodies are left out. */
  query(q: RequestLogQuery): Promise<RequestLogEntry[]>;
  /** One entry, bodies included. */
  get(id: string): Promise<RequestLogEntry | undefined>;
  /** Deletes entries older than `beforeMs`; returns how many. */
  prune(beforeMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Columns in insert order; shared by both implementations. */
export const LOG_COLUMNS = [
  'id',
  'time_ms',
  'node',
  'request_id',
  'route',
  'virtual_key',
  'provider',
  'model',
  'status',
  'latency_ms',
  'ttft_ms',
  'prompt_tokens',
  'completion_tokens',
  'cost',
  'attempts',
  'fallback_index',
  'error',
  'stream',
  'request_body',
  'response_body',
] as const;

export interface LogRow {
  id: string;
  time_ms: number | string;
  node: string;
  request_id: string;
  route: string;
  virtual_key: string | null;
  provider: string;
  model: string;
  status: number;
  latency_ms: number;
  ttft_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  attempts: number;
  fallback_index: number | null;
  error: string | null;
  stream: number | boolean;
  request_body?: string | null;
  response_body?: string | null;
}

export function toRowValues(e: RequestLogEntry): unknown[] {
  return [
    e.id,
    Date.parse(e.time),
    e.node,
    e.request_id,
    e.route,
    e.virtual_key,
    e.provider,
    e.model,
    e.status,
    e.latency_ms,
    e.ttft_ms,
    e.tokens.prompt,
    e.tokens.completion,
    e.cost,
    e.attempts,
    e.fallback_index,
    e.error,
    e.stream ? 1 : 0,
    e.request_body ?? null,
    e.response_body ?? null,
  ];
}

export function fromRow(r: LogRow): RequestLogEntry {
  const e: RequestLogEntry = {
    id: r.id,
    time: new Date(Number(r.time_ms)).toISOString(),
    node: r.node,
    request_id: r.request_id,
    route: r.route,
    virtual_key: r.virtual_key,
    provider: r.provider,
    model: r.model,
    status: Number(r.status),
    latency_ms: Number(r.latency_ms),
    ttft_ms: r.ttft_ms === null ? null : Number(r.ttft_ms),
    tokens: { prompt: Number(r.prompt_tokens), completion: Number(r.completion_tokens) },
    cost: Number(r.cost),
    attempts: Number(r.attempts),
    fallback_index: r.fallback_index === null ? null : Number(r.fallback_index),
    error: r.error,
    stream: !!r.stream,
  };
  if (r.request_body != null) e.request_body = r.request_body;
  if (r.response_body != null) e.response_body = r.response_body;
  return e;
}

/**
 * WHERE clause and parameters for a query; `ph(i)` renders the i-th
 * placeholder (`?` for SQLite, `$i` for PostgreSQL).
 */
export function whereClause(
  q: RequestLogQuery,
  ph: (i: number) => string,
): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (frag: (p: () => string) => string, ...values: unknown[]) => {
    parts.push(
      frag(() => {
        params.push(values.shift());
        return ph(params.length);
      }),
    );
  };
  if (q.before) {
    const { timeMs, id } = q.before;
    add((p) => `(time_ms < ${p()} OR (time_ms = ${p()} AND id < ${p()}))`, timeMs, timeMs, id);
  }
  if (q.provider !== undefined) add((p) => `provider = ${p()}`, q.provider);
  if (q.model !== undefined) add((p) => `model = ${p()}`, q.model);
  if (q.virtual_key !== undefined) add((p) => `virtual_key = ${p()}`, q.virtual_key);
  if (q.status && 'exact' in q.status) add((p) => `status = ${p()}`, q.status.exact);
  if (q.status && 'class' in q.status) {
    const lo = q.status.class * 100;
    add((p) => `status >= ${p()} AND status < ${p()}`, lo, lo + 100);
  }
  if (q.since !== undefined) add((p) => `time_ms >= ${p()}`, q.since);
  if (q.until !== undefined) add((p) => `time_ms < ${p()}`, q.until);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** Columns of a list query (bodies are fetched only by id). */
export const LIST_COLUMNS = LOG_COLUMNS.filter((c) => c !== 'request_body' && c !== 'response_body').join(
  ', ',
);

/**
 * Entry ids start with the arrival time in ms, base 36, 9 characters (see
 * logEntryId), so the time half of the (time_ms, id) key is read from the id.
 */
export function timeOfId(id: string): number | undefined {
  if (!/^[0-9a-z]{10,64}$/.test(id)) return undefined;
  const t = Number.parseInt(id.slice(0, 9), 36);
  return Number.isSafeInteger(t) ? t : undefined;
}
