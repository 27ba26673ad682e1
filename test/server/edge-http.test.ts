import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { parseRawResponse, rawHttp } from '../support/raw-http.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The HTTP edge: every answer is JSON in the OpenAI error shape, nothing reaches the process. */
describe('HTTP edge', () => {
  let n: InProcessNode;
  beforeAll(async () => {
    n = await startInProcessNode();
  });
  afterAll(async () => {
    await n?.stop();
  });

  const rawStatus = async (request: string) => {
    const r = parseRawResponse(await rawHttp(n.port, request));
    return { ...r, json: JSON.parse(r.body.slice(0, r.body.lastIndexOf('}') + 1)) as ErrorBody };
  };

  it('answers malformed percent-encoding on a routed path with 400, and keeps serving', async () => {
    for (const p of ['/api/providers/%E0', '/api/governance/virtual-keys/%', '/v1/%zz', '/%C3%28']) {
      const res = await fetch(`${n.base}${p}`);
      expect(res.status, p).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.param).toBeDefined();
    }
    expect((await fetch(`${n.base}/health`)).status).toBe(200);
  });

  it('puts param (null or the field) in every error body', async () => {
    const res = await fetch(`${n.base}/nothing`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toHaveProperty('param', null);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('answers HEAD on every GET route', async () => {
    for (const p of ['/health', '/ready', '/metrics', '/v1/models', '/cluster/status']) {
      const res = await fetch(`${n.base}${p}`, { method: 'HEAD' });
      expect(res.status, p).not.toBe(405);
      expect(res.status, p).toBeLessThan(500);
    }
  });

  it('answers a wrong method on a known path with 405 and allow', async () => {
    const res = await fetch(`${n.base}/v1/chat/completions`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const p = await fetch(`${n.base}/api/providers/mock`, { method: 'PATCH' });
    expect(p.status).toBe(405);
    expect(p.headers.get('allow')).toMatch(/GET/);
    expect(((await p.json()) as ErrorBody).error.code).toBe('method_not_allowed');
  });

  it('answers an HTTP/1.1 request without Host with a JSON 400', async () => {
    const r = await rawStatus('GET /health HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe('host');
  });

  it('answers Expect: 200-ok with a JSON 417', async () => {
    const r = await rawStatus(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
    );
    expect(r.status).toBe(417);
    expect(r.json.error.code).toBe('expectation_failed');
  });

  it('answers CONNECT with a JSON 405 and closes', async () => {
    const r = await rawStatus('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n');
    expect(r.status).toBe(405);
    expect(r.headers).toMatch(/connection: close/i);
    expect(r.json.error.code).toBe('method_not_allowed');
  });

  it('answers a garbage request line with a JSON 400', async () => {
    const r = await rawStatus('\x00\x01 garbage\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
  });

  it('still serves after all of the above', async () => {
    expect((await fetch(`${n.base}/health`)).status).toBe(200);
  });
});
