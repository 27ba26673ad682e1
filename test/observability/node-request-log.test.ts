/**
 * Through a real node: the gateway calls the request observer and the tracer
 * (src/gateway/hooks.ts). Needs the gateway branch's wiring of
 * `requestObserver` and `tracer` (GatewayOptions); the seam-level tests in
 * this folder prove the rest without it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockUpstream } from '../support/mock-upstream.js';
import { NodeProcess } from '../support/node-process.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

describe('request log and traces through a real node', () => {
  let upstream: MockUpstream;
  let rx: OtlpReceiver;
  let node: NodeProcess;

  beforeAll(async () => {
    upstream = await new MockUpstream().start();
    rx = await new OtlpReceiver().start();
    node = new NodeProcess({
      config: {
        server: {
          host: '127.0.0.1',
          port: await freePort(),
          drain_accept_seconds: 0,
          drain_timeout_seconds: 2,
        },
        providers: {
          openai: {
            keys: [{ name: 'primary', value: 'sk-upstream-secret-0001' }],
            network_config: { base_url: upstream.url, max_retries: 0 },
          },
        },
        governance: { virtual_keys: [{ id: 'team-e2e', value: 'vk-e2e-value-0001' }] },
        observability: {
          request_log: { bodies: true },
          otel: { endpoint: rx.url, protocol: 'http/json' },
        },
      },
    }).start();
    await node.waitReady(60_000);
  }, 90_000);

  afterAll(async () => {
    await node?.destroy();
    await upstream?.stop();
    await rx?.close();
  });

  it('records each inference request with the contract fields and traces it, traceparent in and out', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-deepintshield-vk': 'vk-e2e-value-0001',
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    const logged = await waitFor(
      async () => {
        const r = (await (await fetch(`${node.url}/api/logs?limit=10`)).json()) as {
          logs: Record<string, unknown>[];
        };
        return r.logs.find((e) => e.request_id === requestId);
      },
      { timeoutMs: 10_000, what: 'the request in /api/logs' },
    );
    expect(logged).toMatchObject({
      route: '/v1/chat/completions',
      virtual_key: 'team-e2e',
      provider: 'openai',
      model: 'gpt-4o-mini',
      status: 200,
      attempts: 1,
      fallback_index: 0,
      error: null,
    });
    expect(logged.latency_ms as number).toBeGreaterThan(0);
    expect(Math.abs(Date.now() - Date.parse(String(logged.time)))).toBeLessThan(60_000);
    expect((logged.tokens as { prompt: number }).prompt).toBeGreaterThan(0);
    const one = (await (await fetch(`${node.url}/api/logs/${logged.id}`)).json()) as Record<string, unknown>;
    expect(one.id).toBe(logged.id);
    expect(JSON.stringify(one)).not.toContain('vk-e2e-value-0001');
    // request_log.bodies is on: both bodies are kept, scrubbed.
    expect(String(one.request_body)).toContain('hello');
    expect(String(one.response_body)).toContain('choices');
    expect(JSON.stringify(one)).not.toContain('sk-upstream-secret-0001');
    expect(upstream.requests.at(-1)!.headers.traceparent).toMatch(
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
    const spans = await waitFor(
      () => {
        const s = rx.spans.filter((x) => x.traceId === traceId);
        return s.length >= 2 ? s : undefined;
      },
      { timeoutMs: 15_000, what: 'spans exported' },
    );
    expect(spans.find((s) => s.kind === 2)!.attributes['gen_ai.response.model']).toBe('gpt-4o-mini');
  });
});
