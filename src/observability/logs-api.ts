import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { z } from 'zod';
import { authorize, sha256 } from '../governance/admin-api.js';
import { HttpError, sendError, sendJson } from '../server/errors.js';
import type { RequestContext, Route } from '../server/router.js';
import type { LogCursor, RequestLogEntry, RequestLogQuery, RequestLogStore } from '../store/request-log.js';
import type { Logger } from './logger.js';

/** A peer whose request log this node gathers (another cluster member). */
export interface LogPeer {
  name: string;
  httpAddress: string;
  /** alive/suspect peers are asked; dead ones are reported unreachable. */
  state: 'alive' | 'suspect' | 'dead' | 'left';
}

export interface LogsApiOptions {
  store: RequestLogStore;
  /** Other members of the cluster (never this node); empty without a cluster. */
  peers: () => LogPeer[];
  adminToken?: string;
  logger: Logger;
  /** Time allowed per peer (ms). */
  peerTimeoutMs?: number;
  /** Largest peer answer accepted (bytes). */
  maxPeerResponseBytes?: number;
}

export const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 50;

const timeParam = z.string().transform((s, ctx) => {
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: 'is not an ISO 8601 time or epoch milliseconds' });
    return z.NEVER;
  }
  return n;
});

/** Query of GET /api/logs (exported for the OpenAPI document). */
export const logsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  cursor: z.string().max(200).optional(),
  provider: z.string().max(200).optional(),
  model: z.string().max(400).optional(),
  status: z
    .string()
    .regex(/^([1-5]\d\d|[1-5]xx)$/, 'is an HTTP status (429) or a class (5xx)')
    .optional(),
  virtual_key: z.string().max(200).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
  /** Set by the node that scatter-gathers: answer from this node's own log only. */
  scope: z.enum(['local', 'cluster']).default('cluster'),
});

type LogsParams = z.infer<typeof logsQuerySchema>;

export function encodeCursor(c: LogCursor): string {
  return Buffer.from(JSON.stringify([c.timeMs, c.id]), 'utf8').toString('base64url');
}

export function decodeCursor(s: string): LogCursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === 'string' &&
      v[1].length <= 64
    )
      return { timeMs: v[0] as number, id: v[1] as string };
  } catch {
    /* falls through */
  }
  throw new HttpError(
    400,
    'cursor: is not a cursor returned by this API',
    'invalid_request_error',
    'invalid_cursor',
  );
}

function toStoreQuery(p: LogsParams, limit: number): RequestLogQuery {
  const q: RequestLogQuery = { limit };
  if (p.cursor) q.before = decodeCursor(p.cursor);
  if (p.provider !== undefined) q.provider = p.provider;
  if (p.model !== undefined) q.model = p.model;
  if (p.virtual_key !== undefined) q.virtual_key = p.virtual_key;
  if (p.status)
    q.status = p.status.endsWith('xx') ? { class: Number(p.status[0]) } : { exact: Number(p.status) };
  if (p.since !== undefined) q.since = p.since;
  if (p.until !== undefined) q.until = p.until;
  return q;
}

/** Newest first: time descending, then id descending (a total order across the cluster). */
export function compareNewestFirst(a: RequestLogEntry, b: RequestLogEntry): number {
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const peerAnswerSchema = z.object({
  logs: z.array(z.looseObject({ id: z.string(), time: z.string() })).max(MAX_LIMIT),
});

/**
 * GET /api/logs and /api/logs/{id}. With a shared PostgreSQL store one query
 * answers for the whole cluster. With per-node SQLite the asked node queries
 * its own log and every live peer's (scope=local) in parallel, each bounded in
 * time and size, and merges them; the cursor is the (time, id) of the last
 * entry returned, so the next page asks every node for what is strictly older.
 * A peer that is dead, slow or failing makes the answer `partial`.
 */
export function logsRoutes(o: LogsApiOptions): Route[] {
  const tokenDigest = o.adminToken ? sha256(o.adminToken) : undefined;
  const peerTimeout = o.peerTimeoutMs ?? 2000;
  const maxPeerBytes = o.maxPeerResponseBytes ?? 8 * 1024 * 1024;
  const shared = o.store.kind === 'postgres';

  const guard =
    (fn: (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
      try {
        authorize(req, tokenDigest);
        await fn(req, res, ctx);
      } catch (err) {
        if (err instanceof HttpError) {
          sendError(res, err);
          return;
        }
        // Everything else comes from the log store (not open yet, or its database is down).
        o.logger.warn({ err: (err as Error)?.message }, 'request log API: store error');
        sendError(
          res,
          new HttpError(
            503,
            'the request log store is unavailable',
            'service_unavailable',
            'store_unavailable',
          ),
        );
      }
    };

  const peerHeaders = (): Record<string, string> =>
    o.adminToken
      ? { authorization: `Bearer ${o.adminToken}`, accept: 'application/json' }
      : { accept: 'application/json' };

  /** GET a peer's JSON, bounded in time and size; undefined on 404. */
  const peerGet = async (peer: LogPeer, path: string): Promise<unknown> => {
    const signal = AbortSignal.timeout(peerTimeout);
    const res = await request(`http://${peer.httpAddress}${path}`, {
      method: 'GET',
      headers: peerHeaders(),
      signal,
      headersTimeout: peerTimeout,
      bodyTimeout: peerTimeout,
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`status ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > maxPeerBytes) {
      await res.body.dump();
      throw new Error('answer too large');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > maxPeerBytes) {
        res.body.destroy();
        throw new Error('answer too large');
      }
      chunks.push(chunk as Buffer);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  };

  const peerQueryString = (p: LogsParams, limit: number): string => {
    const qs = new URLSearchParams();
    qs.set('scope', 'local');
    qs.set('limit', String(limit));
    if (p.cursor) qs.set('cursor', p.cursor);
    for (const k of ['provider', 'model', 'status', 'virtual_key'] as const)
      if (p[k] !== undefined) qs.set(k, p[k]);
    if (p.since !== undefined) qs.set('since', String(p.since));
    if (p.until !== undefined) qs.set('until', String(p.until));
    return qs.toString();
  };

  const listLogs = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const p = parseQuery(req.url ?? '');
    const limit = p.limit;
    // One more than asked tells whether a next page exists.
    const local = await o.store.query(toStoreQuery(p, limit + 1));
    if (shared || p.scope === 'local') {
      const page = local.slice(0, limit);
      sendJson(res, 200, {
        logs: page,
        next_cursor: local.length > limit ? cursorOf(page[page.length - 1]!) : null,
      });
      return;
    }
    const peers = o.peers();
    const unreachable: string[] = peers.filter((x) => x.state === 'dead').map((x) => x.name);
    const asked = peers.filter((x) => x.state === 'alive' || x.state === 'suspect');
    const qs = peerQueryString(p, limit + 1);
    const answers = await Promise.all(
      asked.map(async (peer) => {
        try {
          const body = peerAnswerSchema.parse(await peerGet(peer, `/api/logs?${qs}`));
          return body.logs as unknown as RequestLogEntry[];
        } catch (err) {
          o.logger.warn({ peer: peer.name, err: (err as Error).message }, 'request log: peer did not answer');
          unreachable.push(peer.name);
          return [];
        }
      }),
    );
    const merged = local.concat(...answers).sort(compareNewestFirst);
    const page = merged.slice(0, limit);
    const body: Record<string, unknown> = {
      logs: page,
      next_cursor: merged.length > limit ? cursorOf(page[page.length - 1]!) : null,
    };
    if (unreachable.length > 0) {
      body.partial = true;
      body.unreachable = unreachable.sort();
    }
    sendJson(res, 200, body);
  };

  const getLog = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    const id = ctx.params.id ?? '';
    if (!/^[0-9a-z]{1,64}$/.test(id)) throw notFound(id);
    const scope = new URL(req.url ?? '/', 'http://x').searchParams.get('scope');
    const local = await o.store.get(id);
    if (local) {
      sendJson(res, 200, local);
      return;
    }
    if (shared || scope === 'local') throw notFound(id);
    const asked = o.peers().filter((x) => x.state === 'alive' || x.state === 'suspect');
    const found = await Promise.all(
      asked.map((peer) =>
        peerGet(peer, `/api/logs/${id}?scope=local`).catch((err) => {
          o.logger.warn({ peer: peer.name, err: (err as Error).message }, 'request log: peer did not answer');
          return undefined;
        }),
      ),
    );
    const hit = found.find((x) => x && typeof x === 'object' && (x as { id?: unknown }).id === id);
    if (!hit) throw notFound(id);
    sendJson(res, 200, hit);
  };

  return [
    { method: 'GET', path: '/api/logs', name: '/api/logs', handler: guard(listLogs) },
    { method: 'GET', path: '/api/logs/:id', name: '/api/logs/:id', handler: guard(getLog) },
  ];
}

function cursorOf(e: RequestLogEntry): string {
  return encodeCursor({ timeMs: Date.parse(e.time), id: e.id });
}

function parseQuery(url: string): LogsParams {
  const sp = new URL(url, 'http://x').searchParams;
  const raw: Record<string, string> = {};
  for (const [k, v] of sp) raw[k] = v;
  const r = logsQuerySchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'query';
    const got = typeof issue.path[0] === 'string' ? raw[issue.path[0]] : undefined;
    throw new HttpError(
      400,
      `${field}: ${issue.message}${got !== undefined ? ` (got ${JSON.stringify(got.slice(0, 50))})` : ''}`,
      'invalid_request_error',
      'invalid_query',
    );
  }
  return r.data;
}

function notFound(id: string): HttpError {
  return new HttpError(
    404,
    `request log entry "${id.slice(0, 64)}" not found`,
    'not_found_error',
    'not_found',
  );
}
