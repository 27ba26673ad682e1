import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/store/request-log.js';
import { PostgresRequestLogStore } from '../../src/store/request-log-postgres.js';
import { PgServer } from '../store/pg-server.js';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { entry } from './fixtures.js';

describe('GET /api/logs with a shared PostgreSQL store', () => {
  let pgServer: PgServer;
  let nodes: NodeProcess[] = [];
  const entries: RequestLogEntry[] = Array.from({ length: 30 }, (_, i) =>
    entry(i + 1, { node: `pg-${(i % 2) + 1}` }),
  );

  beforeAll(async () => {
    pgServer = await new PgServer().init();
    const ports = await freePorts(4);
    nodes = [0, 1].map((i) =>
      new NodeProcess({
        config: {
          server: {
            host: '127.0.0.1',
            port: ports[2 + i],
            drain_accept_seconds: 0,
            drain_timeout_seconds: 2,
          },
          config_store: pgServer.storeConfig(),
          cluster_config: {
            enabled: true,
            node_name: `pg-${i + 1}`,
            bind_address: '127.0.0.1',
            peers: [`127.0.0.1:${ports[1 - i]}`],
            gossip: {
              port: ports[i],
              timings: { profile: 'local' },
              config: {
                timeout_seconds: 1,
                interval_seconds: 0.5,
                success_threshold: 1,
                failure_threshold: 2,
              },
            },
          },
        },
      }).start(),
    );
    await Promise.all(nodes.map((n) => n.waitReady(60_000)));
    const store = new PostgresRequestLogStore({
      host: '127.0.0.1',
      port: pgServer.port,
      user: pgServer.user,
      password: '',
      database: pgServer.database,
      ssl: 'disable',
    });
    await store.init(); // idempotent beside the nodes' own migration
    await store.insert(entries);
    await store.close();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    pgServer?.destroy();
  });

  it('one query answers for the whole cluster, even with the other node dead', async () => {
    const want = [...entries].reverse().map((e) => e.id);
    const page = async () =>
      (await (await fetch(`${nodes[0]!.url}/api/logs?limit=100`)).json()) as {
        logs: RequestLogEntry[];
        partial?: boolean;
      };
    const before = await page();
    expect(before.logs.map((e) => e.id)).toEqual(want);
    expect(before.partial).toBeUndefined();
    nodes[1]!.signal('SIGKILL');
    await nodes[1]!.waitExit(10_000);
    const after = await page();
    expect(after.logs.map((e) => e.id)).toEqual(want);
    expect(after.partial).toBeUndefined();
    const one = await fetch(`${nodes[0]!.url}/api/logs/${entries[4]!.id}`);
    expect(((await one.json()) as RequestLogEntry).node).toBe('pg-1');
  }, 90_000);
});
