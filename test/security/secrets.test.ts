import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/**
 * Secrets (provider keys, virtual key values, the admin token, the gossip
 * key) never appear in logs, check-config output or any HTTP response. The
 * node runs at debug level and is driven through every surface; then all of
 * its output and every response body is searched for each secret.
 */
const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const SECRETS = {
  providerKey: secret('sk-provider'),
  providerKey2: secret('sk-second'),
  vkValue: secret('vk-team'),
  adminToken: secret('admin'),
  gossipKey: randomBytes(32).toString('base64'),
  envProviderKey: secret('sk-from-env'),
};

describe('secrets stay secret', () => {
  let node: NodeProcess;
  const seen: string[] = [];

  beforeAll(async () => {
    const [http, gossip] = await freePorts(2);
    node = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port: http, admin_token: SECRETS.adminToken, drain_accept_seconds: 0 },
        logging: { level: 'debug' },
        providers: {
          mock: {
            keys: [
              { name: 'a', value: SECRETS.providerKey },
              { name: 'b', value: 'env.DIS_TEST_PROVIDER_KEY' },
            ],
          },
          upstream: {
            type: 'openai',
            keys: [{ name: 'c', value: SECRETS.providerKey2 }],
            network_config: { base_url: 'http://127.0.0.1:9', max_retries: 0 },
          },
        },
        governance: {
          virtual_keys: [{ id: 'team', value: SECRETS.vkValue, rate_limit: { request_max_limit: 1000 } }],
        },
        cluster_config: {
          enabled: true,
          bind_address: '127.0.0.1',
          gossip: { port: gossip, encryption_key: SECRETS.gossipKey },
        },
      },
      env: { DIS_TEST_PROVIDER_KEY: SECRETS.envProviderKey },
    }).start();
    await node.waitReady();
  });
  afterAll(async () => {
    await node?.destroy();
  });

  it('never shows a secret in output, responses or check-config', async () => {
    const admin = { authorization: `Bearer ${SECRETS.adminToken}` };
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${node.url}${path}`, init);
      const text = await res.text();
      seen.push(`${path} ${res.status} ${JSON.stringify([...res.headers])} ${text}`);
      return res;
    };
    const chat = (headers: Record<string, string>, model = 'mock/mock-model') =>
      call('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    await chat({ 'x-deepintshield-vk': SECRETS.vkValue });
    await chat({ authorization: `Bearer ${SECRETS.vkValue}` }, 'upstream/gpt-4o');
    await chat({ 'x-deepintshield-vk': `${SECRETS.vkValue}-wrong` });
    await call('/cluster/status');
    await call('/metrics');
    await call('/api/providers', { headers: admin });
    await call('/api/providers/mock', { headers: admin });
    await call('/api/governance/virtual-keys', { headers: admin });
    await call('/api/governance/virtual-keys/team', { headers: admin });
    await call('/api/providers', { headers: { authorization: 'Bearer wrong' } });
    await call('/api/governance/virtual-keys', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'team', value: SECRETS.vkValue }),
    });
    await call('/api/governance/virtual-keys', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bad id!', value: SECRETS.vkValue }),
    });
    const checked = (() => {
      try {
        return execFileSync(process.execPath, [MAIN, 'check-config', '--config', node.configPath], {
          env: { ...process.env, DIS_TEST_PROVIDER_KEY: SECRETS.envProviderKey },
          encoding: 'utf8',
        });
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    })();
    expect(checked).toContain('config OK');
    seen.push(checked);
    node.signal('SIGTERM');
    await node.waitExit(20_000);
    await waitFor(() => node.hasLog('drained'), { timeoutMs: 5000, what: 'final log line' });

    const everything = [...seen, ...node.rawOutput].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(everything.includes(value), `${name} leaked`).toBe(false);
    }
    // the admin API answered, masked, and refused the wrong token
    expect(seen.some((s) => s.startsWith('/api/providers 200'))).toBe(true);
    expect(seen.some((s) => s.startsWith('/api/providers 401'))).toBe(true);
  }, 60_000);
});
