import type { IncomingMessage, ServerResponse } from 'node:http';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { RequestRecord } from '../gateway/hooks.js';
import type { ErrorShape } from './errors.js';

export interface RequestContext {
  /** x-request-id, honoured from the client or generated. */
  requestId: string;
  /** Path parameters of a `:name` route. */
  params: Record<string, string>;
  /** Path without the query string. */
  path: string;
  startedAt: number;
  /** Set by the gateway when an inference request finishes: the access line carries its fields. */
  record?: RequestRecord;
}

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
) => void | Promise<void>;

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';

export interface Route {
  method: RouteMethod;
  /** Exact path ("/v1/models") or with `:param` segments ("/api/providers/:name"). */
  path: string;
  handler: Handler;
  /** Label for metrics; defaults to the path pattern. */
  name?: string;
  /** The error body of this route's API family (Anthropic, Gemini); unset = OpenAI shape. */
  errorBody?: ErrorShape;
  /** Misses (404/405) under this path prefix are answered in `errorBody`'s shape too. */
  errorScope?: string;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export type RouteMiss =
  /** The path exists under other methods: answer 405 with `allow`. */
  | { kind: 'method_not_allowed'; allow: string[] }
  /** The path cannot be decoded (malformed percent-encoding). */
  | { kind: 'bad_path' }
  | { kind: 'not_found' };

const METHODS: readonly RouteMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];

/**
 * Exact paths resolve with one Map lookup (the inference hot path); routes
 * with `:param` segments go to find-my-way's radix tree, which decodes
 * parameters without throwing (a malformed `%E0` is a miss, not an exception).
 * Every GET route also answers HEAD.
 */
export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly exactPaths = new Map<string, Set<RouteMethod>>();
  private readonly tree = FindMyWay<FindMyWay.HTTPVersion.V1>({ ignoreTrailingSlash: false });
  private readonly patternMethods = new Set<RouteMethod>();
  private readonly scopes: { prefix: string; shape: ErrorShape }[] = [];

  add(route: Route): this {
    if (route.errorScope && route.errorBody && !this.scopes.some((s) => s.prefix === route.errorScope))
      this.scopes.push({ prefix: route.errorScope, shape: route.errorBody });
    this.register(route.method, route);
    if (route.method === 'GET' && !this.has('HEAD', route.path)) this.register('HEAD', route);
    return this;
  }

  addAll(routes: Route[]): this {
    for (const r of routes) this.add(r);
    return this;
  }

  private has(method: RouteMethod, path: string): boolean {
    return path.includes(':')
      ? this.tree.hasRoute(method as HTTPMethod, path)
      : this.exact.has(`${method} ${path}`);
  }

  private register(method: RouteMethod, route: Route): void {
    if (route.path.includes(':')) {
      if (this.tree.hasRoute(method as HTTPMethod, route.path))
        this.tree.off(method as HTTPMethod, route.path);
      this.tree.on(method as HTTPMethod, route.path, () => undefined, route);
      this.patternMethods.add(method);
      return;
    }
    this.exact.set(`${method} ${route.path}`, route);
    const methods = this.exactPaths.get(route.path) ?? new Set<RouteMethod>();
    methods.add(method);
    this.exactPaths.set(route.path, methods);
  }

  /** The error shape for a path no route matched (its API family's, by prefix), if any. */
  missShape(path: string): ErrorShape | undefined {
    for (const s of this.scopes) if (path.startsWith(s.prefix)) return s.shape;
    return undefined;
  }

  /** Never throws, whatever the method or path. */
  match(method: string, path: string): Match | RouteMiss {
    const hit = this.exact.get(`${method} ${path}`);
    if (hit) return { route: hit, params: {} };
    const found = this.findPattern(method, path);
    if (found) return found;
    const allow = new Set<string>(this.exactPaths.get(path) ?? []);
    for (const m of this.patternMethods) if (m !== method && this.findPattern(m, path)) allow.add(m);
    if (allow.size > 0) return { kind: 'method_not_allowed', allow: METHODS.filter((m) => allow.has(m)) };
    if (path.includes('%') && !decodes(path)) return { kind: 'bad_path' };
    return { kind: 'not_found' };
  }

  private findPattern(method: string, path: string): Match | undefined {
    if (!this.patternMethods.has(method as RouteMethod)) return undefined;
    const found = this.tree.find(method as HTTPMethod, path);
    if (!found) return undefined;
    const params: Record<string, string> = {};
    for (const k in found.params) {
      const v = found.params[k];
      if (!v) return undefined; // an empty segment names nothing
      params[k] = v;
    }
    return { route: found.store as Route, params };
  }
}

function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}
