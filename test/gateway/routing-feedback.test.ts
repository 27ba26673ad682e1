import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptOutcome, KeyCandidate, KeyRouter } from '../../src/gateway/hooks.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { MockUpstream } from '../support/mock-upstream.js';

/** Records every outcome; chooses the first candidate not avoided. */
class RecordingRouter implements KeyRouter {
  readonly outcomes: AttemptOutcome[] = [];
  choose(
    _p: string,
    _m: string,
    candidates: readonly KeyCandidate[],
    avoid: ReadonlySet<string> | undefined,
  ): number {
    return candidates.findIndex((c) => !avoid?.has(c.name));
  }
  record(o: AttemptOutcome): void {
    this.outcomes.push(o);
  }
}

/** The key router learns each attempt's real upstream latency (adaptive routing weighs keys by it). */
describe('routing feedback', () => {
  const up = new MockUpstream();
  const router = new RecordingRouter();
  const gw = new GatewayHarness();

  beforeAll(async () => {
    await up.start();
    await gw.start(
      {
        providers: {
          openai: {
            keys: [{ name: 'k1', value: 'sk-one' }],
            network_config: { base_url: up.url, max_retries: 0 },
          },
        },
      },
      { keyRouter: router },
    );
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  it.each([false, true])(
    'reports the upstream latency of a successful attempt (stream: %s)',
    async (stream) => {
      router.outcomes.length = 0;
      up.next({ delayMs: 120 });
      const r = await gw.post('/v1/chat/completions', {
        model: 'openai/m',
        stream,
        messages: [{ role: 'user', content: 'hi' }],
      });
      await r.text();
      expect(r.status).toBe(200);
      expect(router.outcomes).toHaveLength(1);
      const o = router.outcomes[0]!;
      expect(o.status).toBe(200);
      // Measured from the attempt's send: the 120 ms the upstream took are in it.
      expect(o.latencyMs).toBeGreaterThanOrEqual(110);
      expect(o.latencyMs).toBeLessThan(5000);
    },
  );
});
