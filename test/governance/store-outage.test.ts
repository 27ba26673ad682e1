import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgServer } from '../store/pg-server.js';
import { waitFor } from '../support/wait.js';
import { GovernedNode } from './harness.js';

const KEY = 'vk-outage-0123456789';

describe('config store outage (PostgreSQL stopped and started again)', () => {
  let pg: PgServer;
  let node: GovernedNode;

  const metric = async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    return /^deepintshield_store_up (\d)/m.exec(text)?.[1];
  };
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${node.url}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    pg = await new PgServer().init();
    node = await new GovernedNode(
      {
        providers: { mock: { keys: [] } },
        governance: {
          enforce_virtual_keys: true,
          virtual_keys: [
            { id: 'k', value: KEY, rate_limit: { request_max_limit: 1000, request_reset_duration: '1h' } },
          ],
        },
        config_store: pg.storeConfig(),
      },
      { captureLogs: true },
    ).start();
  });

  afterAll(async () => {
    await node?.stop();
    pg?.destroy();
  });

  it('keeps serving with the last good config, reports the outage, recovers by itself', async () => {
    expect((await fetch(`${node.url}/ready`)).status).toBe(200);
    expect(await metric()).toBe('1');
    expect(
      (await admin('POST', '/api/governance/virtual-keys', { id: 'before', value: 'vk-before-0123456789' }))
        .status,
    ).toBe(201);

    pg.stop();
    await waitFor(async () => (await metric()) === '0', {
      timeoutMs: 15_000,
      what: 'deepintshield_store_up 0',
    });
    await waitFor(() => node.logs.some((l) => l.msg === 'config store is down'), {
      timeoutMs: 2000,
      what: '"config store is down" logged',
    });
    // Still ready, still governing with the last good config (including the key added before the outage).
    expect((await fetch(`${node.url}/ready`)).status).toBe(200);
    expect(
      node.runtime.governance.admit({ virtualKey: KEY, provider: 'mock', model: 'm', route: 'r' }).reject,
    ).toBeUndefined();
    expect(
      node.runtime.governance.admit({
        virtualKey: 'vk-before-0123456789',
        provider: 'mock',
        model: 'm',
        route: 'r',
      }).reject,
    ).toBeUndefined();
    const during = await admin('POST', '/api/governance/virtual-keys', {
      id: 'during',
      value: 'vk-during-0123456789',
    });
    expect(during.status).toBe(503);

    await pg.start();
    await waitFor(async () => (await metric()) === '1', {
      timeoutMs: 20_000,
      what: 'deepintshield_store_up 1',
    });
    await waitFor(() => node.logs.some((l) => l.msg === 'config store is up again'), {
      timeoutMs: 2000,
      what: '"config store is up again" logged',
    });
    const after = await admin('POST', '/api/governance/virtual-keys', {
      id: 'after',
      value: 'vk-after-0123456789',
    });
    expect(after.status).toBe(201);
    expect(
      node.runtime.governance.admit({
        virtualKey: 'vk-after-0123456789',
        provider: 'mock',
        model: 'm',
        route: 'r',
      }).reject,
    ).toBeUndefined();
  });
});
