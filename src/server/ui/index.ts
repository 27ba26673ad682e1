import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { UI_PATH } from '../../config/defaults.js';
import type { Route } from '../router.js';
import { UI_HTML } from './page.js';

interface Prepared {
  raw: Buffer;
  gzip: Buffer;
  etag: string;
}

let prepared: Prepared | undefined;

/** Encoded and compressed once per process, never per request. */
function prepare(): Prepared {
  if (!prepared) {
    const raw = Buffer.from(UI_HTML, 'utf8');
    prepared = {
      raw,
      gzip: gzipSync(raw, { level: 9 }),
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
    };
  }
  return prepared;
}

/** GET /ui: the self-contained dashboard, served by every node; GET / redirects to it. */
export function uiRoutes(): Route[] {
  const page = prepare();
  const handler: Route['handler'] = (req, res) => {
    const headers: Record<string, string> = {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      etag: page.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    };
    if (req.headers['if-none-match'] === page.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gz ? page.gzip : page.raw;
    if (gz) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const toUi: Route['handler'] = (_req, res) => {
    res.writeHead(302, { location: UI_PATH, 'content-length': '0', 'cache-control': 'no-cache' });
    res.end();
  };
  return [
    { method: 'GET', path: '/', handler: toUi, name: UI_PATH },
    { method: 'GET', path: UI_PATH, handler, name: UI_PATH },
    { method: 'GET', path: `${UI_PATH}/`, handler, name: UI_PATH },
  ];
}
