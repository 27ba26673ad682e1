import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { DeepIntShieldNode } from '../../src/node.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from '../support/ports.js';

/**
 * Upstream faults: providers that answer 500 or 429 for a share of requests,
 * or never answer. Retries, key switching and fallbacks must keep the
 * failures the client sees at the level the config promises.
 */
describe('chaos: upstream faults', () => {
  let node: DeepIntShieldNode;
  let base: string;
  const dispatcher = new Agent({ connections: 32 });

  beforeAll(async () => {
    const port = await freePort();
    const net = { max_retries: 3, retry_backoff_initial_ms: 1, retry_backoff_max_ms: 5 };
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port, drain_accept_seconds: 0 },
        providers: {
          flaky500: {
            type: 'mock',
            keys: [
              { name: 'a', value: 'k-a' },
              { name: 'b', value: 'k-b' },
            ],
            network_config: net,
            mock_config: { fail_rate: 0.3, fail_status: 500 },
          },
          flaky429: {
            type: 'mock',
            keys: [
              { name: 'a', value: 'k-a' },
              { name: 'b', value: 'k-b' },
              { name: 'c', value: 'k-c' },
            ],
            network_config: net,
            mock_config: { fail_rate: 0.3, fail_status: 429 },
          },
          hangs: {
            type: 'mock',
            keys: [{ name: 'a', value: 'k-a' }],
            network_config: { ...net, max_retries: 0, default_request_timeout_in_seconds: 0.3 },
            mock_config: { hang_rate: 0.2 },
          },
          down: {
            type: 'mock',
            keys: [{ name: 'a', value: 'k-a' }],
            network_config: { ...net, max_retries: 1 },
            mock_config: { fail_rate: 1, fail_status: 503 },
          },
          backup: { type: 'mock', keys: [{ name: 'a', value: 'k-a' }] },
        },
        config_store: { type: 'sqlite', config: { path: ':memory:' } },
      },
      'test',
    );
    node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
    await node.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await dispatcher.close();
    await node?.shutdown('test done');
  });

  async function run(
    model: string,
    n: number,
    extra: Record<string, unknown> = {},
  ): Promise<{ failed: number; statuses: Record<number, number> }> {
    const statuses: Record<number, number> = {};
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const res = await request(`${base}/v1/chat/completions`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
        });
        await res.body.text();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    return { failed, statuses };
  }

  it('30% upstream 500s with 3 retries: client failures near 0.3^4 (< 3%)', async () => {
    const { failed, statuses } = await run('flaky500/mock-model', 1000);
    console.log('flaky500', statuses);
    expect(failed / 1000).toBeLessThan(0.03);
  });

  it('30% upstream 429s: keys cool down, the fallback absorbs the rest, 0 client failures', async () => {
    // A 429 cools its key down for every node (the provider asked us to back off); once all keys
    // of a provider are cooling, requests go straight to the fallback instead of hammering it.
    const { failed, statuses } = await run('flaky429/mock-model', 1000, { fallbacks: ['backup/mock-model'] });
    console.log('flaky429+fallback', statuses);
    expect(failed).toBe(0);
  });

  it('a provider that is down: every request succeeds through the fallback', async () => {
    const { failed, statuses } = await run('down/mock-model', 300, { fallbacks: ['backup/mock-model'] });
    console.log('down+fallback', statuses);
    expect(failed).toBe(0);
  });

  it('20% of requests hang: the per-request timeout fires and the fallback answers', async () => {
    const started = Date.now();
    const { failed, statuses } = await run('hangs/mock-model', 300, { fallbacks: ['backup/mock-model'] });
    console.log('hangs+fallback', statuses, `${Date.now() - started} ms`);
    expect(failed).toBe(0);
  });

  it('without a fallback, a hung upstream is a 504 after the timeout', async () => {
    const { statuses } = await run('hangs/mock-model', 100);
    expect(Object.keys(statuses).every((s) => s === '200' || s === '504')).toBe(true);
    expect(statuses[504] ?? 0).toBeGreaterThan(0);
  });
});
