import { connect } from 'node:net';

/** Sends bytes on a fresh TCP connection and collects everything until the server closes (or `timeoutMs`). */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(request));
    let out = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('close', done);
    s.on('error', done);
  });
}

/** Status code and parsed JSON body of a raw HTTP/1.1 answer (the first one on the wire). */
export function parseRawResponse(raw: string): { status: number; headers: string; body: string } {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  const split = raw.indexOf('\r\n\r\n');
  return {
    status: m ? Number(m[1]) : 0,
    headers: split === -1 ? raw : raw.slice(0, split),
    body: split === -1 ? '' : raw.slice(split + 4),
  };
}
