import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Route, Router } from '../../src/server/router.js';

const handler = () => undefined;
const routes: Route[] = [
  { method: 'POST', path: '/v1/chat/completions', handler },
  { method: 'GET', path: '/v1/models', handler },
  { method: 'GET', path: '/api/providers/:name', handler },
  { method: 'PUT', path: '/api/providers/:name', handler },
  { method: 'DELETE', path: '/api/providers/:name', handler },
  { method: 'GET', path: '/api/governance/virtual-keys/:id', handler },
];
const router = new Router().addAll(routes);

describe('router', () => {
  it('matches exact and :param paths, decoding parameters', () => {
    expect(router.match('POST', '/v1/chat/completions')).toMatchObject({ route: routes[0], params: {} });
    expect(router.match('GET', '/api/providers/open%20ai')).toMatchObject({
      route: routes[2],
      params: { name: 'open ai' },
    });
    expect(router.match('GET', '/api/providers/a%2Fb')).toMatchObject({ params: { name: 'a/b' } });
  });

  it('answers HEAD for every GET route', () => {
    expect(router.match('HEAD', '/v1/models')).toMatchObject({ route: routes[1] });
    expect(router.match('HEAD', '/api/providers/x')).toMatchObject({ route: routes[2] });
  });

  it('reports 405 with the allowed methods, and 404 and bad paths apart', () => {
    expect(router.match('GET', '/v1/chat/completions')).toEqual({
      kind: 'method_not_allowed',
      allow: ['POST'],
    });
    expect(router.match('POST', '/api/providers/x')).toEqual({
      kind: 'method_not_allowed',
      allow: ['GET', 'HEAD', 'PUT', 'DELETE'],
    });
    expect(router.match('GET', '/api/providers/')).toEqual({ kind: 'not_found' });
    expect(router.match('GET', '/api/providers/%E0')).toEqual({ kind: 'bad_path' });
    expect(router.match('GET', '/nope')).toEqual({ kind: 'not_found' });
  });

  const segment = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('%', '%E0', '%zz', '%C3%28', '%2F', '%00', '..', '', 'providers', 'api', 'v1'),
    fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|[a-z])+$/),
  );
  const anyPath = fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);
  const anyMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'BREW', '');

  it('never throws and answers only in its four shapes, for any method and path', () => {
    fc.assert(
      fc.property(anyMethod, anyPath, (method, path) => {
        const m = router.match(method, path);
        if ('route' in m) {
          expect(m.route.method === method || (method === 'HEAD' && m.route.method === 'GET')).toBe(true);
          for (const v of Object.values(m.params)) expect(v.length).toBeGreaterThan(0);
        } else expect(['method_not_allowed', 'bad_path', 'not_found']).toContain(m.kind);
      }),
      { numRuns: 5000, verbose: true },
    );
  });

  it('decodes any parameter the way decodeURIComponent does', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (name) => {
        const m = router.match('GET', `/api/providers/${encodeURIComponent(name)}`);
        expect(m).toMatchObject({ route: routes[2], params: { name } });
      }),
      { numRuns: 2000 },
    );
  });
});
