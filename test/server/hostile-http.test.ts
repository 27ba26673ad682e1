import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';

/** Hostile HTTP input: every case gets a clear 4xx and the server keeps serving. */
describe('HTTP server under hostile input', () => {
  let n: InProcessNode;
  let base: string;
  let port: number;

  beforeAll(async () => {
    n = await startInProcessNode({
      server: {
        max_body_bytes: 64 * 1024,
        headers_timeout_seconds: 1,
        request_timeout_seconds: 2,
        max_header_bytes: 8192,
      },
    });
    ({ base, port } = n);
  });
  afterAll(async () => {
    await n?.stop();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  it('answers malformed JSON with 400 in the OpenAI error shape', async () => {
    const res = await post('{"model": "mock/x", "messages": [');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/JSON/);
  });

  it('answers invalid UTF-8 with 400', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"model":"mock/x","messages":[{"role":"user","content":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}]}'),
    ]);
    const res = await post(bytes);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/UTF-8/);
  });

  it('answers a body over the limit with 413, declared or streamed', async () => {
    const big = `{"model":"mock/x","pad":"${'a'.repeat(100 * 1024)}"}`;
    const res = await post(big);
    expect(res.status).toBe(413);
    await res.body?.cancel();
    const chunked = await raw(
      port,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${(200 * 1024).toString(16)}\r\n${'a'.repeat(200 * 1024)}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
  });

  it('answers huge headers with 431', async () => {
    const res = await raw(port, `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(res).toMatch(/^HTTP\/1\.1 431/);
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    const res = await fetch(`${base}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
    const wrong = await fetch(`${base}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
  });

  it('drops a slowloris client that never finishes its headers', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write('GET /health HTTP/1.1\r\nhost: x\r\n');
        const drip = setInterval(() => s.writable && s.write('x-a: b\r\n'), 200);
        s.once('close', () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      s.on('error', () => undefined);
      setTimeout(() => reject(new Error('slow client was never dropped')), 8000).unref();
    });
    expect(closedAfter).toBeLessThan(5000);
  });

  it('still serves after all of the above', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
  });
});

function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(request));
    let out = '';
    s.on('data', (d) => {
      out += d.toString();
    });
    s.on('close', () => resolve(out));
    s.on('error', (err) => (out ? resolve(out) : reject(err)));
    setTimeout(() => resolve(out), 5000).unref();
  });
}
