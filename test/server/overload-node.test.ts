import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/** The overload guard wired into a real node: in-flight thresholds, early 503s, /ready, recovery. */
describe('overload protection in a node process', () => {
  let upstream: Server;
  let node: NodeProcess;

  beforeAll(async () => {
    // An upstream that takes 1.5 s per answer, so requests pile up in flight.
    upstream = createServer((req, res) => {
      req.resume();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'c',
            object: 'chat.completion',
            created: 1,
            model: 'm',
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      }, 1500);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const [port] = await freePorts(1);
    node = new NodeProcess({
      config: {
        server: {
          host: '127.0.0.1',
          port,
          drain_accept_seconds: 0,
          overload: {
            ready_max_in_flight: 3,
            shed_max_in_flight: 6,
            retry_after_seconds: 2,
            recovery_ms: 300,
          },
        },
        providers: {
          openai: {
            keys: [{ name: 'k', value: 'sk-test' }],
            network_config: { base_url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1` },
          },
        },
      },
    }).start();
    await node.waitReady(45_000);
  });

  afterAll(async () => {
    await node?.destroy();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('sheds past shed_max_in_flight with 503 + retry-after, turns /ready 503, and recovers by itself', async () => {
    const send = () =>
      fetch(`${node.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/m', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const first = Array.from({ length: 8 }, () => send());
    // While they are in flight: /ready is 503 with the reason.
    const notReady = await waitFor(
      async () => {
        const r = await fetch(`${node.url}/ready`);
        const body = (await r.json()) as { reason?: string };
        return r.status === 503 && /overloaded/.test(body.reason ?? '') ? body : undefined;
      },
      { timeoutMs: 1400, intervalMs: 50, what: '/ready 503 overloaded' },
    );
    expect(notReady.reason).toMatch(/in flight/);
    const extra = await send();
    expect(extra.status).toBe(503);
    expect(extra.headers.get('retry-after')).toBe('2');
    expect(await extra.json()).toEqual({
      error: { message: expect.any(String), type: 'service_unavailable', param: null, code: 'overloaded' },
    });
    const statuses = await Promise.all(first.map(async (p) => (await p).status));
    // 6 admitted (the shed limit), the rest refused early.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(6);
    const recovered = Date.now();
    await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, {
      timeoutMs: 5000,
      intervalMs: 50,
      what: 'ready again',
    });
    expect(Date.now() - recovered).toBeLessThan(5000);
    expect((await send()).status).toBe(200);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/deepintshield_overload_shed_total [1-9]/);
  });
});
