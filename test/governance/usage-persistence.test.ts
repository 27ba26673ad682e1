import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgServer } from '../store/pg-server.js';
import { waitFor } from '../support/wait.js';
import { GovernedNode } from './harness.js';

const KEY = 'vk-persist-0123456789';

function config(store: Record<string, unknown>) {
  return {
    providers: { mock: { keys: [] } },
    governance: {
      enforce_virtual_keys: true,
      virtual_keys: [
        {
          id: 'p',
          value: KEY,
          budget: { max_limit: 0.0002, reset_duration: '1M' },
          rate_limit: {
            token_max_limit: 1_000_000,
            token_reset_duration: '1d',
            request_max_limit: 1000,
            request_reset_duration: '1m',
          },
        },
      ],
    },
    config_store: store,
  };
}

async function spend(node: GovernedNode, times: number) {
  for (let i = 0; i < times; i++) {
    const adm = node.runtime.governance.admit({ virtualKey: KEY, provider: 'mock', model: 'm', route: 'r' });
    expect(adm.reject).toBeUndefined();
    // $1/M * 10 + $2/M * 20 = $0.00005
    adm.settle({ provider: 'mock', model: 'm', promptTokens: 10, completionTokens: 20 });
  }
}

const admitStatus = (node: GovernedNode) =>
  node.runtime.governance.admit({ virtualKey: KEY, provider: 'mock', model: 'm', route: 'r' }).reject
    ?.status ?? 200;

describe('usage survives restarts', () => {
  let dir: string;
  let pg: PgServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dis-usage-'));
    pg = await new PgServer().init();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    pg?.destroy();
  });

  it('single node (SQLite): budget spent before a restart is still spent after it', async () => {
    const store = { enabled: true, type: 'sqlite', config: { path: join(dir, 'u.db') } };
    const a = await new GovernedNode(config(store)).start();
    await spend(a, 3);
    expect(a.runtime.governance.usage('p')?.tokens?.used).toBe(90);
    await a.stop(); // persists on shutdown
    const b = await new GovernedNode(config(store)).start();
    try {
      await waitFor(() => b.runtime.governance.usage('p')?.tokens?.used === 90, {
        timeoutMs: 5000,
        what: 'usage restored',
      });
      await spend(b, 1);
      expect(admitStatus(b)).toBe(402);
      // Short windows (1m requests) are not persisted: they reset anyway.
      expect(b.runtime.governance.usage('p')?.requests?.used).toBe(1);
    } finally {
      await b.stop();
    }
  });

  it('whole cluster (PostgreSQL): every node restarts and the sum of all nodes’ spend is reloaded', async () => {
    const nodes = await Promise.all([0, 1].map(() => new GovernedNode(config(pg.storeConfig())).start()));
    await spend(nodes[0]!, 2);
    await spend(nodes[1]!, 1);
    await Promise.all(nodes.map((n) => n.stop()));
    const rows = await pg.query(`SELECT count(*)::int AS n FROM usage_counters WHERE counter = 'vk:p:usd'`);
    expect(rows.rows[0].n).toBe(2);
    const fresh = await new GovernedNode(config(pg.storeConfig())).start();
    try {
      await waitFor(
        () => Math.abs((fresh.runtime.governance.usage('p')?.budget_usd?.used ?? 0) - 0.00015) < 1e-12,
        {
          timeoutMs: 5000,
          what: 'usage of both nodes restored',
        },
      );
      await spend(fresh, 1);
      expect(admitStatus(fresh)).toBe(402);
    } finally {
      await fresh.stop();
    }
  });
});
