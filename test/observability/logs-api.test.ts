import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { type LogPeer, logsRoutes } from '../../src/observability/logs-api.js';
import { Router } from '../../src/server/router.js';
import type { RequestLogStore } from '../../src/store/request-log.js';
import { SqliteRequestLogStore } from '../../src/store/request-log-sqlite.js';
import { entry } from './fixtures.js';

/** Serves the request-log routes the way the node's router does. */
async function serve(
  store: RequestLogStore,
  peers: () => LogPeer[],
  token = 't0ken',
): Promise<{ server: Server; addr: string }> {
  const router = new Router().addAll(
    logsRoutes({
      store,
      peers,
      adminToken: token,
      logger: silentLogger(),
      peerTimeoutMs: 300,
      maxPeerResponseBytes: 64 * 1024,
    }),
  );
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const m = router.match(req.method ?? 'GET', path);
    if (!m || 'kind' in m) return void res.writeHead(404).end();
    void m.route.handler(req, res, { requestId: 'r', params: m.params, path, startedAt: 0 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('/api/logs scatter-gather against hostile peers', () => {
  const closers: (() => void)[] = [];
  let asked: string;
  let peerAddr: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const own = new SqliteRequestLogStore(':memory:');
    await own.init();
    await own.insert([entry(1, { node: 'a' }), entry(3, { node: 'a' })]);
    const other = new SqliteRequestLogStore(':memory:');
    await other.init();
    await other.insert([entry(2, { node: 'b' }), entry(4, { node: 'b' })]);
    const good = await serve(other, () => []);
    peerAddr = good.addr;
    // Accepts and never answers.
    const slow: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    // Answers far more than allowed, and garbage.
    const hostile = createHttpServer((req, res) => {
      if (req.url?.startsWith('/huge')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"logs":[${'"x",'.repeat(100_000)}"x"]}`);
      } else res.writeHead(200).end('<html>not json');
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const hp = (hostile.address() as { port: number }).port;
    const peers: LogPeer[] = [
      { name: 'b', httpAddress: good.addr, state: 'alive' },
      { name: 'slow', httpAddress: `127.0.0.1:${(slow.address() as { port: number }).port}`, state: 'alive' },
      { name: 'gone', httpAddress: '127.0.0.1:1', state: 'dead' },
      { name: 'left', httpAddress: '127.0.0.1:1', state: 'left' },
    ];
    // The "huge" and "garbage" peers differ only by path: route them through a tiny proxying peer list.
    const hugePeer = createHttpServer((req, res) => {
      void fetch(`http://127.0.0.1:${hp}/huge${req.url}`).then(async (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      });
    });
    await new Promise<void>((r) => hugePeer.listen(0, '127.0.0.1', r));
    peers.push({
      name: 'huge',
      httpAddress: `127.0.0.1:${(hugePeer.address() as { port: number }).port}`,
      state: 'alive',
    });
    peers.push({ name: 'garbage', httpAddress: `127.0.0.1:${hp}`, state: 'suspect' });
    const me = await serve(own, () => peers);
    asked = me.addr;
    closers.push(
      () => me.server.close(),
      () => good.server.close(),
      () => hostile.close(),
      () => hugePeer.close(),
      () => {
        for (const s of sockets) s.destroy();
        slow.close();
      },
    );
  });
  afterAll(() => {
    for (const c of closers) c();
  });

  it('answers in bounded time with the peers that answered, flagging the rest', async () => {
    const t0 = performance.now();
    const res = await fetch(`http://${asked}/api/logs?limit=10`, {
      headers: { authorization: 'Bearer t0ken' },
    });
    const ms = performance.now() - t0;
    const body = (await res.json()) as {
      logs: { node: string; request_id: string }[];
      partial: boolean;
      unreachable: string[];
      next_cursor: unknown;
    };
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(3000);
    expect(body.logs.map((e) => `${e.node}:${e.request_id}`)).toEqual([
      'b:req-4',
      'a:req-3',
      'b:req-2',
      'a:req-1',
    ]);
    expect(body.partial).toBe(true);
    expect(body.unreachable).toEqual(['garbage', 'gone', 'huge', 'slow']);
    expect(body.next_cursor).toBeNull();
  });

  it('a peer is asked for its own log only (no second fan-out), with the admin token', async () => {
    const res = await fetch(`http://${peerAddr}/api/logs?scope=local`, {
      headers: { authorization: 'Bearer t0ken' },
    });
    expect(((await res.json()) as { logs: unknown[] }).logs.length).toBe(2);
    expect((await fetch(`http://${peerAddr}/api/logs?scope=local`)).status).toBe(401);
  });

  it('with a shared PostgreSQL store one query answers and no peer is asked', async () => {
    const sqlite = new SqliteRequestLogStore(':memory:');
    await sqlite.init();
    await sqlite.insert([entry(7)]);
    const shared = Object.assign(Object.create(sqlite), { kind: 'postgres' }) as RequestLogStore;
    let askedPeers = 0;
    const me = await serve(shared, () => {
      askedPeers++;
      return [{ name: 'x', httpAddress: '127.0.0.1:1', state: 'alive' }];
    });
    const res = await fetch(`http://${me.addr}/api/logs`, { headers: { authorization: 'Bearer t0ken' } });
    const body = (await res.json()) as { logs: unknown[]; partial?: boolean };
    expect(body.logs.length).toBe(1);
    expect(body.partial).toBeUndefined();
    expect(askedPeers).toBe(0);
    me.server.close();
  });

  it('a store that is not open answers 503, not 500', async () => {
    const closed = new SqliteRequestLogStore(':memory:');
    const me = await serve(closed, () => []);
    const res = await fetch(`http://${me.addr}/api/logs`, { headers: { authorization: 'Bearer t0ken' } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
    me.server.close();
  });
});
