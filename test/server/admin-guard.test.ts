import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';

interface Answer {
  status: number;
  body: { error?: { code: string | null; param: string | null } };
}

/** node:http, because fetch will not let a test set Host, Origin or Sec-Fetch-Site freely. */
function call(port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const vk = (id: string) => JSON.stringify({ id, value: `value-of-${id}-0123456789` });

/** Token-less admin API: browser CSRF and DNS rebinding are refused (interface.md, HTTP § Admin API). */
describe('admin API guard without an admin token', () => {
  let n: InProcessNode;
  beforeAll(async () => {
    n = await startInProcessNode({ server: { allowed_hosts: ['gateway.internal'] } });
  });
  afterAll(async () => {
    await n?.stop();
  });
  const host = () => `127.0.0.1:${n.port}`;
  const post = (headers: Record<string, string>, id: string) =>
    call(n.port, 'POST', '/api/governance/virtual-keys', { host: host(), ...headers }, vk(id));

  it('refuses a cross-site text/plain POST (the CSRF form trick)', async () => {
    const r = await post({ 'content-type': 'text/plain', origin: 'http://attacker.example' }, 'csrf-1');
    expect(r.status).toBe(403);
    const plain = await post({ 'content-type': 'text/plain;charset=UTF-8' }, 'csrf-2');
    expect(plain.status).toBe(403);
    expect(plain.body.error?.code).toBe('admin_json_only');
    const none = await post({}, 'csrf-3');
    expect(none.status).toBe(403);
  });

  it('refuses a cross-site Origin or Sec-Fetch-Site even with JSON', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await post({ ...json, origin: 'http://attacker.example' }, 'x1')).status).toBe(403);
    expect((await post({ ...json, origin: 'null' }, 'x2')).status).toBe(403);
    expect((await post({ ...json, 'sec-fetch-site': 'cross-site' }, 'x3')).status).toBe(403);
    expect((await post({ ...json, 'sec-fetch-site': 'same-site' }, 'x4')).status).toBe(403);
  });

  it('refuses a Host that is not the node (DNS rebinding), on reads too', async () => {
    const r = await call(n.port, 'GET', '/api/providers', { host: 'attacker.example' });
    expect(r.status).toBe(403);
    expect(r.body.error?.code).toBe('admin_host_not_allowed');
    expect(r.body.error?.param).toBe('host');
    const w = await call(
      n.port,
      'POST',
      '/api/governance/virtual-keys',
      { host: 'attacker.example:8080', 'content-type': 'application/json' },
      vk('rebind'),
    );
    expect(w.status).toBe(403);
  });

  it('serves same-origin JSON from loopback under its own names and allowed_hosts', async () => {
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect(
      (await post({ ...json, origin: `http://${host()}`, 'sec-fetch-site': 'same-origin' }, 'ok-1')).status,
    ).toBe(201);
    for (const h of [`localhost:${n.port}`, 'gateway.internal', `[::1]:${n.port}`]) {
      const r = await call(n.port, 'GET', '/api/governance/virtual-keys', { host: h });
      expect(r.status, h).toBe(200);
    }
    const list = await call(n.port, 'GET', '/api/governance/virtual-keys', { host: host() });
    const ids = (list.body as { virtual_keys: { id: string }[] }).virtual_keys.map((k) => k.id);
    expect(ids).toEqual(['ok-1']);
  });
});

describe('admin API guard with an admin token', () => {
  let n: InProcessNode;
  beforeAll(async () => {
    n = await startInProcessNode({ server: { admin_token: 'admin-token-0123456789abcdef' } });
  });
  afterAll(async () => {
    await n?.stop();
  });

  it('leaves the bearer token as the defence', async () => {
    const r = await call(n.port, 'GET', '/api/providers', {
      host: 'gateway.example.com',
      authorization: 'Bearer admin-token-0123456789abcdef',
    });
    expect(r.status).toBe(200);
    const noToken = await call(n.port, 'GET', '/api/providers', { host: `127.0.0.1:${n.port}` });
    expect(noToken.status).toBe(401);
  });
});
