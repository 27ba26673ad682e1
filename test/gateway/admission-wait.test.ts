import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayHarness } from '../support/gateway-harness.js';
import { MockUpstream } from '../support/mock-upstream.js';

/**
 * A refusal that carries `wait` (the limiter is confirming a claim on idle peers' shares) is not
 * answered: the gateway waits for it and asks once more, counted as the same request.
 */
describe('admission wait', () => {
  const up = new MockUpstream();
  const gw = new GatewayHarness();

  beforeAll(async () => {
    await up.start();
    await gw.start({
      providers: {
        openai: {
          keys: [{ name: 'k1', value: 'sk-one' }],
          network_config: { base_url: up.url, max_retries: 0 },
        },
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  it.each([false, true])(
    'waits, asks again once with again: true, and serves (stream: %s)',
    async (stream) => {
      gw.governance.admitted.length = 0;
      gw.governance.pendingFirst = true;
      const t0 = performance.now();
      const r = await fetch(`${gw.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'openai/gpt-4o-mini',
          stream,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      await r.text();
      expect(r.status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
      expect(gw.governance.admitted.map((a) => a.again === true)).toEqual([false, true]);
      gw.governance.pendingFirst = false;
    },
  );
});
