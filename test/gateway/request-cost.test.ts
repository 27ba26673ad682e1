import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { waitFor } from '../support/wait.js';

interface LogEntry {
  request_id: string;
  model: string;
  cost: number;
  tokens: { prompt: number; completion: number };
}

/** The request log's cost is the governance price table's: per-model prices, then default_price. */
describe('RequestRecord.cost', () => {
  const up = new MockUpstream();
  let gw: InProcessNode;

  beforeAll(async () => {
    await up.start();
    const net = { base_url: up.url, max_retries: 0 };
    gw = await startInProcessNode({
      providers: {
        mock: { keys: [{ value: 'mock-key' }] },
        openai: { keys: [{ value: 'sk-1' }], network_config: net },
      },
      governance: {
        pricing: { 'openai/priced-model': { input_per_million: 1000, output_per_million: 3000 } },
        default_price: { input_per_million: 10, output_per_million: 20 },
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up.stop();
  });

  const chat = async (model: string, stream: boolean, id: string) => {
    const r = await fetch(`${gw.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({
        model,
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
        messages: [{ role: 'user', content: 'price me' }],
      }),
    });
    expect(r.status).toBe(200);
    await r.text();
  };
  const entry = (id: string) =>
    waitFor(
      async () => {
        const r = await fetch(`${gw.base}/api/logs?limit=50`);
        const { logs } = (await r.json()) as { logs: LogEntry[] };
        return logs.find((l) => l.request_id === id);
      },
      { what: `log entry ${id}` },
    );
  const expected = (e: LogEntry, inPerM: number, outPerM: number) =>
    (e.tokens.prompt * inPerM + e.tokens.completion * outPerM) / 1e6;

  for (const stream of [false, true])
    it(`per-model price, default_price and the built-in table, ${stream ? 'stream' : 'JSON'}`, async () => {
      const s = stream ? 's' : 'j';
      await chat('openai/priced-model', stream, `cost-priced-${s}`);
      await chat('openai/unlisted-model', stream, `cost-default-${s}`);
      await chat('openai/gpt-4o-mini', stream, `cost-builtin-${s}`);
      const priced = await entry(`cost-priced-${s}`);
      expect(priced.tokens.prompt + priced.tokens.completion).toBeGreaterThan(0);
      expect(priced.cost).toBeCloseTo(expected(priced, 1000, 3000), 12);
      const dflt = await entry(`cost-default-${s}`);
      expect(dflt.cost).toBeCloseTo(expected(dflt, 10, 20), 12);
      expect(dflt.cost).toBeGreaterThan(0);
      const builtin = await entry(`cost-builtin-${s}`);
      expect(builtin.cost).toBeCloseTo(expected(builtin, 0.15, 0.6), 12);
    });

  it('a request that fails upstream costs nothing', async () => {
    up.next({ status: 400, path: '/chat/completions' });
    const r = await fetch(`${gw.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'cost-failed' },
      body: JSON.stringify({ model: 'openai/priced-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(400);
    expect((await entry('cost-failed')).cost).toBe(0);
  });
});
