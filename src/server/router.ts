import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  /** x-request-id, honoured from the client or generated. */
  requestId: string;
  /** Path parameters of a `:name` route. */
  params: Record<string, string>;
  /** Path without the query string. */
  path: string;
  startedAt: number;
}

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
) => void | Promise<void>;

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';
  /** Exact path ("/v1/models") or with `:param` segments ("/api/providers/:name"). */
  path: string;
  handler: Handler;
  /** Label for metrics; defaults to the path pattern. */
  name?: string;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/**
 * Exact paths resolve with one Map lookup (the inference hot path); pattern
 * routes are compiled once at start-up and tried only when no exact path
 * matches.
 */
export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly patterns: { method: string; segments: string[]; route: Route }[] = [];
  private readonly knownPaths = new Set<string>();

  add(route: Route): this {
    if (route.path.includes(':')) {
      this.patterns.push({ method: route.method, segments: route.path.split('/'), route });
    } else {
      this.exact.set(`${route.method} ${route.path}`, route);
    }
    this.knownPaths.add(route.path);
    return this;
  }

  addAll(routes: Route[]): this {
    for (const r of routes) this.add(r);
    return this;
  }

  match(method: string, path: string): Match | 'method_not_allowed' | undefined {
    const hit = this.exact.get(`${method} ${path}`);
    if (hit) return { route: hit, params: {} };
    let pathKnown = false;
    const parts = path.split('/');
    for (const p of this.patterns) {
      if (p.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = p.segments[i]!;
        if (seg.startsWith(':')) {
          if (!parts[i]) {
            ok = false;
            break;
          }
          params[seg.slice(1)] = decodeURIComponent(parts[i]!);
        } else if (seg !== parts[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathKnown = true;
      if (p.method === method) return { route: p.route, params };
    }
    for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'])
      if (this.exact.has(`${m} ${path}`)) pathKnown = true;
    return pathKnown ? 'method_not_allowed' : undefined;
  }
}
