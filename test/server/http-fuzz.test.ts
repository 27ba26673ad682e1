import { METHODS } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';
import { parseRawResponse, rawHttp } from '../support/raw-http.js';
import { rssBytes } from '../support/rss.js';

/**
 * Property: whatever path, headers and body arrive on any route family, a real
 * node process answers with JSON (an error in the OpenAI shape when it is not a
 * 2xx), never a 500, stays alive and keeps its memory bounded.
 */
describe('HTTP edge fuzzing against a real node process', () => {
  let node: NodeProcess;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    node = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port, max_body_bytes: 256 * 1024, drain_accept_seconds: 0 },
        providers: { mock: { keys: [{ value: 'mock-key' }] } },
        cluster_config: { enabled: false },
      },
    }).start();
    await node.waitReady();
  });
  afterAll(async () => {
    await node?.destroy();
  });

  const families = {
    inference: [
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/embeddings',
      '/anthropic/v1/messages',
      '/v1/models',
    ],
    admin: [
      '/api/providers',
      '/api/providers/',
      '/api/governance/virtual-keys',
      '/api/governance/virtual-keys/',
    ],
    ops: ['/health', '/ready', '/metrics', '/cluster/status'],
    unknown: ['/', '/v2/', '/api/', '/%', '/v1/'],
  };
  const pathChar = fc.constantFrom(
    ..."abcXYZ019-._~!$&'()*+,;=:@/%?#[]".split(''),
    '%E0',
    '%zz',
    '%C3%28',
    '%2F',
    '%00',
    '%%',
    '..',
  );
  const suffix = fc.array(pathChar, { maxLength: 24 }).map((a) => a.join(''));
  const path = (prefixes: string[]) =>
    fc.tuple(fc.constantFrom(...prefixes), suffix, fc.boolean()).map(([p, s, keep]) => (keep ? p : p + s));
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO');
  const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
  const headerValue = fc.oneof(
    fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
    fc.constantFrom(
      'application/json',
      'text/plain',
      'cross-site',
      'http://attacker.example',
      'Bearer x',
      '200-ok',
    ),
  );
  const specialHeader = fc.constantFrom(
    'content-type',
    'origin',
    'sec-fetch-site',
    'authorization',
    'x-deepintshield-vk',
    'x-api-key',
    'x-request-id',
    'accept-encoding',
  );
  const headers = fc.array(fc.tuple(fc.oneof(headerName, specialHeader), headerValue), { maxLength: 8 });
  const nested = fc.integer({ min: 1, max: 5000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`);
  const body = fc.oneof(
    fc.constant(''),
    fc.json({ maxDepth: 4 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ model: 'mock/m', messages: v })),
    fc
      .record({
        model: fc.oneof(fc.constant('mock/m'), fc.string({ maxLength: 40 })),
        messages: fc.array(
          fc.record({
            role: fc.constantFrom('user', 'system', 'assistant', 'tool', 'x'),
            content: fc.jsonValue({ maxDepth: 2 }),
          }),
          { maxLength: 3 },
        ),
        stream: fc.boolean(),
      })
      .map((v) => JSON.stringify(v)),
    nested.map((n) => `{"model":"mock/m","messages":${n}}`),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  );

  const request = fc.record({
    family: fc.constantFrom(...(Object.keys(families) as (keyof typeof families)[])),
    method,
    headers,
    body,
  });

  it('answers every request with JSON and no 500, stays alive, memory bounded', async () => {
    const pid = node.pid!;
    const rssBefore = rssBytes(pid);
    await fc.assert(
      fc.asyncProperty(
        request.chain((r) => fc.tuple(fc.constant(r), path(families[r.family]))),
        async ([r, p]) => {
          const bodyBytes = Buffer.from(r.body, 'latin1');
          const lines = [
            `${r.method} ${p.startsWith('/') ? p : `/${p}`} HTTP/1.1`,
            `host: 127.0.0.1:${port}`,
          ];
          for (const [k, v] of r.headers)
            if (k !== 'content-length' && k !== 'transfer-encoding') lines.push(`${k}: ${v}`);
          lines.push(`content-length: ${bodyBytes.length}`, 'connection: close');
          const raw = await rawHttp(
            port,
            Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bodyBytes]),
          );
          const res = parseRawResponse(raw);
          expect(res.status, raw.slice(0, 300)).toBeGreaterThanOrEqual(200);
          expect(res.status, raw.slice(0, 600)).not.toBe(500);
          if (r.method === 'HEAD' || res.status === 204) return;
          const ct = /content-type: ([^\r\n]*)/i.exec(res.headers)?.[1] ?? '';
          if (res.status >= 400) {
            expect(ct, res.headers).toMatch(/application\/json/);
            const text = res.body.replace(/^[0-9a-f]+\r\n/i, '');
            const json = JSON.parse(text.slice(0, text.lastIndexOf('}') + 1)) as {
              type?: string;
              error: Record<string, unknown>;
            };
            // Each API family answers in its own error shape (docs/providers.md), carrying the contract's
            // OpenAI fields as well; a method the HTTP parser refuses is answered before any route is
            // known, in the OpenAI shape.
            const at = p.startsWith('/') ? p : `/${p}`;
            const routed = METHODS.includes(r.method);
            if (routed && at.startsWith('/anthropic/')) {
              expect(json.type).toBe('error');
              expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
            } else if (routed && at.startsWith('/genai/')) {
              expect(
                Object.keys(json.error)
                  .filter((k) => k !== 'details')
                  .sort(),
              ).toEqual(['code', 'message', 'param', 'status', 'type']);
              expect(json.error.code).toBe(res.status);
            } else expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
          }
        },
      ),
      { numRuns: 400, verbose: true },
    );
    expect(node.running).toBe(true);
    const health = Date.now();
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(Date.now() - health).toBeLessThan(1000);
    expect(rssBytes(pid) - rssBefore).toBeLessThan(80 * 1024 * 1024);
  }, 120_000);
});
