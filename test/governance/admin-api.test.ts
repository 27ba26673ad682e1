import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../../src/server/addresses.js';
import { GovernedNode } from './harness.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const SECRET = 'vk-secret-value-abcdefghijkl';

describe('admin API', () => {
  let node: GovernedNode;
  let open: GovernedNode;
  let dir: string;

  const call = (
    n: GovernedNode,
    method: string,
    path: string,
    body?: unknown,
    token: string | null = TOKEN,
  ) =>
    fetch(`${n.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dis-admin-'));
    node = await new GovernedNode({
      server: { host: '127.0.0.1', port: 0, admin_token: TOKEN },
      providers: { mock: { keys: [{ name: 'default', value: 'mock-provider-secret-123456' }] } },
      governance: {
        enforce_virtual_keys: true,
        virtual_keys: [{ id: 'seeded', value: 'vk-seeded-0123456789' }],
      },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, 'a.db') } },
    }).start();
    open = await new GovernedNode({
      providers: { mock: { keys: [] } },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, 'b.db') } },
    }).start();
  });

  afterAll(async () => {
    await node?.stop();
    await open?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('401 without or with a wrong token', async () => {
    expect((await call(node, 'GET', '/api/governance/virtual-keys', undefined, null)).status).toBe(401);
    expect((await call(node, 'GET', '/api/governance/virtual-keys', undefined, 'wrong')).status).toBe(401);
    expect((await call(node, 'GET', '/api/providers', undefined, `${TOKEN}x`)).status).toBe(401);
    const ok = await call(node, 'GET', '/api/governance/virtual-keys');
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { virtual_keys: { id: string; value: string }[] };
    expect(body.virtual_keys.map((k) => k.id)).toEqual(['seeded']);
    expect(body.virtual_keys[0]!.value).not.toContain('0123456789');
  });

  it('without an admin token: loopback clients only', async () => {
    expect((await call(open, 'GET', '/api/providers', undefined, null)).status).toBe(200);
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('::ffff:127.0.0.5')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.5')).toBe(false);
    expect(isLoopbackAddress('::ffff:192.168.1.1')).toBe(false);
    // A non-loopback peer, through the real route handler.
    const route = open.runtime.routes().find((r) => r.method === 'GET' && r.path === '/api/providers')!;
    let status = 0;
    let payload = '';
    const res = {
      headersSent: false,
      setHeader() {},
      writeHead(s: number) {
        status = s;
        return this;
      },
      end(b: string) {
        payload = b;
      },
    } as unknown as ServerResponse;
    await route.handler(
      { socket: { remoteAddress: '10.1.2.3' }, headers: {} } as unknown as IncomingMessage,
      res,
      {
        requestId: 'x',
        params: {},
        path: '/api/providers',
        startedAt: 0,
      },
    );
    expect(status).toBe(403);
    expect(payload).toContain('loopback');
  });

  it('creates a virtual key (201, secret masked) that governance honours at once', async () => {
    const res = await call(node, 'POST', '/api/governance/virtual-keys', {
      id: 'team-a',
      value: SECRET,
      allowed_models: ['mock/*'],
      rate_limit: { request_max_limit: 10, request_reset_duration: '1h' },
    });
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text)).toMatchObject({ id: 'team-a', allowed_models: ['mock/*'] });
    const adm = node.runtime.governance.admit({
      virtualKey: SECRET,
      provider: 'mock',
      model: 'x',
      route: 'r',
    });
    expect(adm.reject).toBeUndefined();
    expect(adm.headers?.['x-ratelimit-limit-requests']).toBe('10');
    const got = await call(node, 'GET', '/api/governance/virtual-keys/team-a');
    expect(got.status).toBe(200);
    expect(await got.text()).not.toContain(SECRET);
    adm.settle({ provider: 'mock', model: 'x', promptTokens: 3, completionTokens: 4 });
    const usage = await call(node, 'GET', '/api/governance/usage');
    expect(usage.status).toBe(200);
    const body = (await usage.json()) as {
      virtual_keys: { id: string; requests?: number; request_limit?: number }[];
    };
    expect(body.virtual_keys.find((k) => k.id === 'team-a')).toMatchObject({
      requests: 1,
      request_limit: 10,
    });
    expect((await call(node, 'GET', '/api/governance/usage', undefined, null)).status).toBe(401);
  });

  it('409 on a duplicate id or value, 404 on unknown ids', async () => {
    const dup = await call(node, 'POST', '/api/governance/virtual-keys', {
      id: 'team-a',
      value: 'another-value-123456',
    });
    expect(dup.status).toBe(409);
    const dupValue = await call(node, 'POST', '/api/governance/virtual-keys', {
      id: 'team-z',
      value: SECRET,
    });
    expect(dupValue.status).toBe(409);
    expect(await dupValue.text()).not.toContain(SECRET);
    expect((await call(node, 'GET', '/api/governance/virtual-keys/nope')).status).toBe(404);
    expect(
      (await call(node, 'PUT', '/api/governance/virtual-keys/nope', { value: 'vk-whatever-123456' })).status,
    ).toBe(404);
    expect((await call(node, 'DELETE', '/api/governance/virtual-keys/nope')).status).toBe(404);
    expect((await call(node, 'GET', '/api/providers/nope')).status).toBe(404);
  });

  it('400 with every field error as "path: what is wrong (got X)"', async () => {
    const res = await call(node, 'POST', '/api/governance/virtual-keys', {
      id: 'bad id!',
      value: 'short',
      rate_limit: { request_max_limit: -1, request_reset_duration: 'soon' },
      colour: 'blue',
      allowed_model: ['openai/gpt-4o'],
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string; code: string } };
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('id: must be 1-128 letters');
    expect(error.message).toContain('(got "bad id!")');
    expect(error.message).toContain('value: must be at least 8 characters (got ********)');
    expect(error.message).toMatch(/rate_limit\.request_max_limit: .*\(got -1\)/);
    expect(error.message).toMatch(/rate_limit\.request_reset_duration: is not a duration.*\(got "soon"\)/);
    expect(error.message).toContain('colour: unknown field');
    expect(error.message).toContain('allowed_model: unknown field (did you mean "allowed_models"?)');
    expect(error.message).not.toContain('short');
    const notJson = await call(node, 'POST', '/api/governance/virtual-keys', '{nope');
    expect(notJson.status).toBe(400);
    const prov = await call(node, 'POST', '/api/providers', { name: 'Custom!', keys: [] });
    expect(prov.status).toBe(400);
    const untyped = await call(node, 'POST', '/api/providers', { name: 'custom', keys: [] });
    expect(untyped.status).toBe(400);
    expect(await untyped.text()).toContain('type: is required');
  });

  it('updates and deletes a virtual key; deleted keys are refused', async () => {
    const put = await call(node, 'PUT', '/api/governance/virtual-keys/team-a', {
      value: SECRET,
      disabled: true,
    });
    expect(put.status).toBe(200);
    expect(
      node.runtime.governance.admit({ virtualKey: SECRET, provider: 'mock', model: 'x', route: 'r' }).reject
        ?.code,
    ).toBe('virtual_key_disabled');
    const mismatch = await call(node, 'PUT', '/api/governance/virtual-keys/team-a', {
      id: 'other',
      value: SECRET,
    });
    expect(mismatch.status).toBe(400);
    expect((await call(node, 'DELETE', '/api/governance/virtual-keys/team-a')).status).toBe(204);
    expect(
      node.runtime.governance.admit({ virtualKey: SECRET, provider: 'mock', model: 'x', route: 'r' }).reject
        ?.status,
    ).toBe(401);
    expect((await call(node, 'GET', '/api/governance/virtual-keys/team-a')).status).toBe(404);
  });

  it('providers: CRUD, keys masked, the gateway gets every change', async () => {
    const created = await call(node, 'POST', '/api/providers', {
      name: 'local-llm',
      type: 'openai',
      keys: [{ name: 'k1', value: 'sk-local-provider-secret-xyz', rpm_limit: 60 }],
      network_config: { base_url: 'http://127.0.0.1:9/v1' },
    });
    expect(created.status).toBe(201);
    const text = await created.text();
    expect(text).not.toContain('sk-local-provider-secret-xyz');
    expect(JSON.parse(text)).toMatchObject({ name: 'local-llm', type: 'openai' });
    expect(Object.keys(node.providersApplied).sort()).toEqual(['local-llm', 'mock']);
    expect((await call(node, 'POST', '/api/providers', { name: 'local-llm', type: 'openai' })).status).toBe(
      409,
    );
    const list = await (await call(node, 'GET', '/api/providers')).text();
    expect(list).not.toContain('mock-provider-secret-123456');
    const upd = await call(node, 'PUT', '/api/providers/local-llm', { type: 'openai', keys: [] });
    expect(upd.status).toBe(200);
    expect(node.providersApplied['local-llm']?.keys).toEqual([]);
    expect((await call(node, 'DELETE', '/api/providers/local-llm')).status).toBe(204);
    expect(Object.keys(node.providersApplied)).toEqual(['mock']);
  });

  it('the config file owns what it declares (applied at every start, 409 naming the file); API entities survive', async () => {
    expect(
      (
        await call(node, 'POST', '/api/governance/virtual-keys', {
          id: 'from-api',
          value: 'vk-from-api-0123456789',
        })
      ).status,
    ).toBe(201);
    // Restart on the same store with a file that changes "seeded", adds a key and a provider.
    await node.stop();
    node = await new GovernedNode({
      server: { host: '127.0.0.1', port: 0, admin_token: TOKEN },
      providers: { mock: { keys: [] }, anthropic: { keys: [] } },
      governance: {
        virtual_keys: [
          { id: 'seeded', value: 'vk-seeded-0123456789', allowed_models: ['mock/only'] },
          { id: 'new-in-file', value: 'vk-file-0123456789' },
        ],
      },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, 'a.db') } },
    }).start();
    const vks = (
      (await (await call(node, 'GET', '/api/governance/virtual-keys')).json()) as {
        virtual_keys: { id: string; allowed_models?: string[] }[];
      }
    ).virtual_keys;
    expect(vks.map((k) => k.id).sort()).toEqual(['from-api', 'new-in-file', 'seeded']);
    expect(vks.find((k) => k.id === 'seeded')?.allowed_models).toEqual(['mock/only']);
    expect(Object.keys(node.providersApplied).sort()).toEqual(['anthropic', 'mock']);
    for (const [method, path] of [
      ['PUT', '/api/governance/virtual-keys/seeded'],
      ['DELETE', '/api/governance/virtual-keys/new-in-file'],
      ['DELETE', '/api/providers/anthropic'],
    ] as const) {
      const r = await call(
        node,
        method,
        path,
        method === 'PUT' ? { value: 'vk-seeded-0123456789' } : undefined,
      );
      expect(r.status).toBe(409);
      const err = ((await r.json()) as { error: { message: string; code: string } }).error;
      expect(err.code).toBe('owned_by_config_file');
      expect(err.message).toContain('config file');
    }
    const dup = await call(node, 'POST', '/api/providers', { name: 'anthropic', keys: [] });
    expect(dup.status).toBe(409);
    // The API entity is still the API's.
    expect((await call(node, 'DELETE', '/api/governance/virtual-keys/from-api')).status).toBe(204);
  });

  it('with no providers in the file the built-in mock stays available', async () => {
    const bare = await new GovernedNode({
      server: { host: '127.0.0.1', port: 0, admin_token: TOKEN },
      config_store: { enabled: true, type: 'sqlite', config: { path: join(dir, 'c.db') } },
    }).start();
    try {
      expect(Object.keys(bare.providersApplied)).toEqual(['mock']);
      expect((await call(bare, 'DELETE', '/api/providers/mock')).status).toBe(409);
      // Replacing it through the admin API is allowed.
      expect((await call(bare, 'POST', '/api/providers', { name: 'mock', keys: [] })).status).toBe(201);
      expect((await call(bare, 'DELETE', '/api/providers/mock')).status).toBe(204);
      expect(Object.keys(bare.providersApplied)).toEqual(['mock']);
    } finally {
      await bare.stop();
    }
  });
});
