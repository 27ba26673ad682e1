// The floor for a proxy hop on this machine: a bare Node.js HTTP proxy (no parsing, routing, limits,
// translation or logging), request headers and body forwarded through an undici Pool as the gateway's
// upstream client does, the answer streamed back chunk by chunk. The bench measures it beside the
// gateway in the same run, so "added" can be read against what any Node.js hop costs here.
//   node bench/translated-stream/bare-proxy.mjs PORT UPSTREAM_ORIGIN
import http from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = process.argv.slice(2);
const pool = new Pool(upstream, { connections: 256, pipelining: 1 });
const HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);
http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
      pool.dispatch(
        { path: req.url, method: req.method, headers, body: Buffer.concat(chunks) },
        {
          onConnect() {},
          onHeaders(status, raw) {
            const h = {};
            for (let i = 0; i < raw.length; i += 2) {
              const k = raw[i].toString('latin1').toLowerCase();
              if (k === 'content-type') h[k] = raw[i + 1].toString('latin1');
            }
            res.writeHead(status, h);
            return true;
          },
          onData(c) {
            res.write(c);
            return true;
          },
          onComplete() {
            res.end();
          },
          onError(e) {
            res.destroy(e);
          },
        },
      );
    });
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
